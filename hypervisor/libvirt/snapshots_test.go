package libvirt

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

func TestCheckSnapshotName_Charset(t *testing.T) {
	good := []string{"a", "before-upgrade", "nightly_2024.01.02", "0", "_x", strings.Repeat("s", 63)}
	for _, name := range good {
		if err := checkSnapshotName(name); err != nil {
			t.Errorf("checkSnapshotName(%q): %v", name, err)
		}
	}
	bad := []string{"", ".hidden", "-flag", "with space", "quote'", `dq"`, "semi;colon", "slash/x", "..",
		"tab\t", "é", "<x>", strings.Repeat("s", 64)}
	for _, name := range bad {
		if err := checkSnapshotName(name); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("checkSnapshotName(%q): %v, want ErrInvalidSpec", name, err)
		}
	}
}

func TestPlanRevert_NeverRunsFromMemoryUnasked(t *testing.T) {
	paused, running := golibvirt.DOMAIN_SNAPSHOT_REVERT_PAUSED, golibvirt.DOMAIN_SNAPSHOT_REVERT_RUNNING
	cases := []struct {
		saved, memory, running bool
		want                   revertPlan
	}{
		{true, true, true, revertPlan{flags: running}},
		{true, false, true, revertPlan{flags: paused, reset: true}},
		{true, true, false, revertPlan{flags: paused, destroy: true}},
		{true, false, false, revertPlan{flags: paused, destroy: true}},
		{false, true, true, revertPlan{flags: running}},
		{false, false, true, revertPlan{flags: running}},
		{false, true, false, revertPlan{}},
		{false, false, false, revertPlan{}},
	}
	for _, c := range cases {
		if got := planRevert(c.saved, c.memory, c.running); got != c.want {
			t.Errorf("planRevert(saved %v, memory %v, running %v) = %+v, want %+v", c.saved, c.memory, c.running, got, c.want)
		}
	}
}

// TestSnapshots_TestDriver runs the whole flow on libvirt's in-process test
// driver, which keeps snapshots as metadata only: names, idempotence,
// states after each kind of revert, deletion, and the undefine libvirt
// refuses without DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.
func TestSnapshots_TestDriver(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "snaps")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second is a no-op
		if err := d.CreateSnapshot(ctx, spec.ID, "live"); err != nil {
			t.Fatalf("CreateSnapshot live (%d): %v", i, err)
		}
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, spec.ID, "off"); err != nil {
		t.Fatalf("CreateSnapshot of a stopped domain: %v", err)
	}
	if got, err := d.Snapshots(ctx, spec.ID); err != nil || !slices.Equal(got, []string{"live", "off"}) {
		t.Fatalf("Snapshots = %v, %v; want [live off]", got, err)
	}

	// A checkpoint, with its memory, running.
	if err := d.RevertSnapshot(ctx, spec.ID, "live", true, true); err != nil {
		t.Fatalf("RevertSnapshot live (memory, running): %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	// A checkpoint without its memory: reverted paused, reset, resumed.
	if err := d.RevertSnapshot(ctx, spec.ID, "live", false, true); err != nil {
		t.Fatalf("RevertSnapshot live (no memory, running): %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	// A checkpoint, to stopped: destroyed on request, so stopped, not crashed.
	if err := d.RevertSnapshot(ctx, spec.ID, "live", true, false); err != nil {
		t.Fatalf("RevertSnapshot live (not running): %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateStopped)
	// A disk-only snapshot of a running domain stops it; with running it runs.
	if err := d.RevertSnapshot(ctx, spec.ID, "off", false, true); err != nil {
		t.Fatalf("RevertSnapshot off (running): %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	if err := d.RevertSnapshot(ctx, spec.ID, "off", false, false); err != nil {
		t.Fatalf("RevertSnapshot off (not running): %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateStopped)

	if err := d.RevertSnapshot(ctx, spec.ID, "nope", true, true); !errors.Is(err, ErrNoSnapshot) || errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("RevertSnapshot of a missing name: %v, want ErrNoSnapshot (and not ErrNotFound)", err)
	}
	for _, name := range []string{"off", "off", "never-was"} {
		if err := d.DeleteSnapshot(ctx, spec.ID, name); err != nil {
			t.Fatalf("DeleteSnapshot %s: %v", name, err)
		}
	}
	if got, err := d.Snapshots(ctx, spec.ID); err != nil || !slices.Equal(got, []string{"live"}) {
		t.Fatalf("Snapshots after delete = %v, %v; want [live]", got, err)
	}

	// libvirt refuses a plain undefine of a domain with snapshots; the
	// driver's Undefine passes DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if err := dom.Undefine(); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("plain undefine of a domain with a snapshot: %v, want libvirt's refusal", err)
	}
	if err := d.Undefine(ctx, spec.ID); err != nil {
		t.Fatalf("Undefine of a domain with a snapshot: %v", err)
	}
	if _, err := d.Inspect(ctx, spec.ID); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("Inspect after Undefine: %v", err)
	}
}

// TestSnapshots_RevertKeepsIdentity: a revert puts back the definition the
// snapshot saved, but not its NovaCron metadata: the generation is the
// VM's current one, and a domain stopped on request before the snapshot
// does not read "stop requested" once it runs again.
func TestSnapshots_RevertKeepsIdentity(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "identity")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil { // stop-requested in the definition
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, spec.ID, "gen1"); err != nil {
		t.Fatal(err)
	}
	spec.Generation = 2
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.RevertSnapshot(ctx, spec.ID, "gen1", true, true); err != nil {
		t.Fatal(err)
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateRunning); got.Generation != 2 {
		t.Fatalf("generation after the revert: %d, want 2 (the snapshot's is 1)", got.Generation)
	}
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	for _, flags := range []golibvirt.DomainModificationImpact{golibvirt.DOMAIN_AFFECT_LIVE, golibvirt.DOMAIN_AFFECT_CONFIG} {
		s, err := dom.GetMetadata(golibvirt.DOMAIN_METADATA_ELEMENT, MetadataNamespace, flags)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := parseMetadata(s); err != nil || m.Generation != 2 || m.StopRequested {
			t.Fatalf("metadata (impact %d) after the revert: %+v, %v; want generation 2, no stop request", flags, m, err)
		}
	}
}

// TestSnapshots_RenameKeepsDomainName: a stopped domain with snapshots
// whose VM was renamed is defined again under the name it has, so libvirt
// keeps its snapshots; once they are gone the next start renames it.
func TestSnapshots_RenameKeepsDomainName(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "old-name")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, spec.ID, "s"); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	spec.Name = "new-name"
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start after the rename: %v", err)
	}
	c := rawConn(t, testURI)
	libvirtName := func() string {
		dom, err := c.LookupDomainByUUIDString(spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer dom.Free()
		name, _ := dom.GetName()
		return name
	}
	if got, want := libvirtName(), domainName(spec.ID, "old-name"); got != want {
		t.Fatalf("libvirt name with a snapshot: %s, want %s (kept)", got, want)
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateRunning); got.Name != "new-name" {
		t.Fatalf("VM name from the metadata: %q", got.Name)
	}
	if got, err := d.Snapshots(ctx, spec.ID); err != nil || !slices.Equal(got, []string{"s"}) {
		t.Fatalf("Snapshots after the rename = %v, %v; want [s]", got, err)
	}
	if err := d.DeleteSnapshot(ctx, spec.ID, "s"); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got, want := libvirtName(), domainName(spec.ID, "new-name"); got != want {
		t.Fatalf("libvirt name without snapshots: %s, want %s", got, want)
	}
}

// TestSnapshots_Refusals: bad names are refused before libvirt sees them
// (a closed driver answers the same), an unknown domain is not found.
func TestSnapshots_Refusals(t *testing.T) {
	d := newTestDriver(t)
	closed := newTestDriver(t)
	closed.Close()
	ctx := ctxT(t, 30*time.Second)
	id := newID(t)
	for _, drv := range []*Driver{d, closed} {
		for _, name := range []string{"", "a b", "-x", strings.Repeat("n", 64)} {
			if err := drv.CreateSnapshot(ctx, id, name); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("CreateSnapshot %q: %v, want ErrInvalidSpec", name, err)
			}
			if err := drv.RevertSnapshot(ctx, id, name, true, true); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("RevertSnapshot %q: %v, want ErrInvalidSpec", name, err)
			}
			if err := drv.DeleteSnapshot(ctx, id, name); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("DeleteSnapshot %q: %v, want ErrInvalidSpec", name, err)
			}
		}
	}
	if err := d.CreateSnapshot(ctx, id, "s"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("CreateSnapshot of an unknown domain: %v, want ErrNotFound", err)
	}
	if err := d.RevertSnapshot(ctx, id, "s", true, true); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("RevertSnapshot of an unknown domain: %v, want ErrNotFound", err)
	}
	if err := d.DeleteSnapshot(ctx, id, "s"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("DeleteSnapshot of an unknown domain: %v, want ErrNotFound", err)
	}
	if _, err := d.Snapshots(ctx, id); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("Snapshots of an unknown domain: %v, want ErrNotFound", err)
	}
}
