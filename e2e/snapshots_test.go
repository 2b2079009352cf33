package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// VM snapshots through the CLI against a follower of a real cluster of sim
// hosts: create, revert and delete return once the VM's host reported them
// done; while the VM has snapshots it neither migrates nor takes a volume;
// a stopped VM's disks are taken without memory.
func TestE2E_SnapshotsThroughTheCLI(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	addr := c.followers(c.leader())[0].addr()
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	refused := func(want string, args ...string) {
		t.Helper()
		if res := runCLI(t, addr, c.token, args...); res.Code != 1 || !strings.Contains(res.Stderr, want) {
			t.Errorf("novacron %s: want exit 1 naming %q", res, want)
		}
	}
	snapshots := func() []client.VMSnapshot {
		t.Helper()
		var list []client.VMSnapshot
		if err := cliJSON(t, addr, c.token, &list, "vm", "snapshot", "list", "web"); err != nil {
			t.Fatal(err)
		}
		return list
	}
	cli("vm", "create", "web", "--vcpus", "1", "--memory", "64", "--disk", "1", "--wait")
	if out := cli("vm", "snapshot", "create", "web", "before", "--memory").Stdout; !strings.HasSuffix(out, "Created snapshot before of vm web (disks and memory).\n") {
		t.Fatalf("snapshot create: %q", out)
	}
	if list := snapshots(); len(list) != 1 || list[0].Name != "before" || list[0].State != client.SnapshotReady || !list[0].Memory {
		t.Fatalf("snapshots %+v", list)
	}
	if out := cli("vm", "show", "web").Stdout; !strings.Contains(out, "before (memory)") {
		t.Errorf("vm show lacks the snapshot:\n%s", out)
	}
	refused("already has a snapshot named before", "vm", "snapshot", "create", "web", "before")
	refused("snapshots", "vm", "migrate", "web", "--no-wait")
	cli("volume", "create", "data", "--size", "1")
	refused("delete its snapshots first", "volume", "attach", "data", "web")

	if out := cli("vm", "snapshot", "revert", "web", "before").Stdout; !strings.HasSuffix(out, "Reverted vm web to snapshot before.\n") {
		t.Fatalf("snapshot revert: %q", out)
	}
	// Reverted with its memory, the guest goes on running.
	testutil.WaitFor(t, 30*time.Second, "web running after the revert", func() bool {
		var vm client.VM
		return cliJSON(t, addr, c.token, &vm, "vm", "show", "web") == nil && vm.State == client.StateRunning
	})

	// A stopped VM: its disks alone.
	cli("vm", "stop", "web", "--wait")
	refused("only a running or paused guest", "vm", "snapshot", "create", "web", "frozen", "--memory")
	if out := cli("vm", "snapshot", "create", "web", "cold").Stdout; !strings.HasSuffix(out, "Created snapshot cold of vm web (disks).\n") {
		t.Fatalf("snapshot of a stopped vm: %q", out)
	}
	for _, name := range []string{"before", "cold"} {
		if out := cli("vm", "snapshot", "delete", "web", name).Stdout; !strings.HasSuffix(out, "Deleted snapshot "+name+" of vm web.\n") {
			t.Fatalf("snapshot delete %s: %q", name, out)
		}
	}
	if list := snapshots(); len(list) != 0 {
		t.Fatalf("snapshots after the deletes %+v", list)
	}
	refused(`vm web has no snapshot "cold"`, "vm", "snapshot", "revert", "web", "cold")
	// Without snapshots, its volumes change again.
	if out := cli("volume", "attach", "data", "web").Stdout; out != "Attached volume data to vm web as vdc.\n" {
		t.Errorf("attach after the deletes: %q", out)
	}
}
