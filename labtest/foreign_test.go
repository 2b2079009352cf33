package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// TestLab_ForeignDomainsAreShownAndLeftAlone defines a domain on a lab host with
// virsh, outside NovaCron. The host's node record must list it as foreign, and the
// agent must leave it exactly as it is.
func TestLab_ForeignDomainsAreShownAndLeftAlone(t *testing.T) {
	l := needLab(t)
	h := l.hosts[0]
	name := uniqueName("foreign")
	xml := fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>96</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>console=ttyS0</cmdline></os></domain>`,
		name, l.kernel, l.initrd)
	file := filepath.Join(t.TempDir(), "foreign.xml")
	if err := os.WriteFile(file, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.virsh("define", file); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.virsh("undefine", name) })

	c := l.client(t)
	testutil.EventuallyEvery(t, 45*time.Second, 250*time.Millisecond, "the node to list the foreign domain", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := c.Node(ctx, h.Name)
		if err != nil {
			return err
		}
		if !slices.Contains(n.ForeignDomains, name) {
			return fmt.Errorf("%s lists foreign domains %v", h.Name, n.ForeignDomains)
		}
		return nil
	})
	// Longer than the host's resync: the agent neither starts nor removes it.
	testutil.HoldsFor(t, 12*time.Second, time.Second, "the foreign domain untouched", func() error {
		st, err := h.domState(name)
		if err != nil {
			return err
		}
		if st != "shut off" {
			return fmt.Errorf("foreign domain is %q, want it left shut off", st)
		}
		return nil
	})
}
