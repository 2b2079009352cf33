package labtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// TestLab_ConsoleOverWebSocket: through an agent that does not run the VM
// (the console is proxied to its host over the internal API), a command
// typed on the serial console runs in the guest and its output comes back;
// the serial log reads from an offset, and `vm logs` prints it.
func TestLab_ConsoleOverWebSocket(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	img := l.importLabImage(t, c)
	name := uniqueName("con")
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name, CloudInit: &client.CloudInit{Hostname: name}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	p.Host.waitTicks(t, p.Domain, 2, bootTimeout)
	other := l.clientOf(t, l.otherHost(p.Host))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	con, err := other.Console(ctx, vm.ID)
	if err != nil {
		t.Fatalf("console of %s through %s: %v", name, other.Address(), err)
	}
	defer con.Close()
	var seen strings.Builder
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := con.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "console-says-42") {
				close(got)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// The shell may still be starting: type the command until its answer
	// comes (an echo of what is typed says "$((6 * 7))", not 42).
	testutil.EventuallyEvery(t, 30*time.Second, time.Second, "the guest's answer on the console", func() error {
		if _, err := con.Write([]byte("echo console-says-$((6 * 7))\n")); err != nil {
			return err
		}
		select {
		case <-got:
			return nil
		case <-time.After(500 * time.Millisecond):
			return fmt.Errorf("no answer yet")
		}
	})

	log, size, err := other.ConsoleLog(context.Background(), vm.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "cloud-init: hostname="+name) || size < int64(len(log)) {
		t.Fatalf("console log (%d of %d bytes) lacks the hostname line", len(log), size)
	}
	if rest, _, err := other.ConsoleLog(context.Background(), vm.ID, size+100); err != nil || len(rest) != 0 {
		t.Fatalf("log past its end: %q, %v; want nothing", rest, err)
	}
	if res := l.cli(t, "vm", "logs", name); !strings.Contains(res.Stdout, "cloud-init: hostname="+name) {
		t.Fatalf("vm logs: %s", res)
	}
}
