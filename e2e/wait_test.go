package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Every VM action takes --wait and returns once the host has done it; a VM
// that fits nowhere fails --wait at once; deleting a running VM from a
// script needs --force. Real binary, real agents (sim hosts).
func TestE2E_WaitOnVMActions(t *testing.T) {
	c := startCluster(t, 3, nil)
	addr := c.leader().addr()
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	cli("vm", "create", "w1", "--vcpus", "1", "--memory", "64", "--disk", "1", "--wait")
	var w1 client.VM
	if err := cliJSON(t, addr, c.token, &w1, "vm", "show", "w1"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ action, want string }{
		{"stop", "is stopped"}, {"start", "is running"}, {"pause", "is paused"},
		{"resume", "is running"}, {"restart", "is running"},
	} {
		res := cli("vm", step.action, "w1", "--wait", "--timeout", "30s")
		if !strings.Contains(res.Stdout, "VM w1 "+step.want) {
			t.Errorf("vm %s --wait printed %q, want %q", step.action, res.Stdout, step.want)
		}
	}

	// A VM in a placement group is placed by the leader's placement loop,
	// not in its create's entry; the create still answers with its node.
	for _, name := range []string{"g1", "g2"} {
		if res := cli("vm", "create", name, "--memory", "64", "--disk", "1", "--anti-affinity", "g", "--no-wait"); !strings.Contains(res.Stdout, "state scheduled on n") {
			t.Errorf("create of %s in a group printed %q, want it scheduled on a node", name, res.Stdout)
		}
	}

	start := time.Now()
	res := runCLI(t, addr, c.token, "vm", "create", "huge", "--vcpus", "1", "--memory", "64", "--disk", "1", "--node-selector", "gpu=true", "--wait", "--timeout", "5m")
	if res.Code != 1 || !strings.Contains(res.Stderr, "is pending: no node fits") {
		t.Errorf("a VM that fits nowhere: %s", res)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("--wait on a VM that fits nowhere took %v: it should fail at once", d)
	}

	// vm update changes what its flags name, with the API's checks, and the
	// error names the flag.
	cli("vm", "update", "w1", "--vcpus", "2", "--memory", "128M", "--label", "tier=gold", "--no-ha")
	var vm client.VM
	if err := cliJSON(t, addr, c.token, &vm, "vm", "show", "w1"); err != nil {
		t.Fatal(err)
	}
	if vm.VCPUs != 2 || vm.MemoryMiB != 128 || vm.Labels["tier"] != "gold" || vm.HA == nil || !vm.HA.Disabled || vm.DiskGiB != 1 {
		t.Errorf("after update: %+v", vm)
	}
	cli("vm", "update", vm.ID[:8], "--unlabel", "tier", "--ha")
	var again client.VM
	if err := cliJSON(t, addr, c.token, &again, "vm", "show", "w1"); err != nil || again.Labels["tier"] != "" || (again.HA != nil && again.HA.Disabled) {
		t.Errorf("after the second update (by ID prefix): %+v, %v", again, err)
	}
	// --restart makes a new size take effect now; --wait waits until the VM
	// runs again.
	if out := cli("vm", "update", "w1", "--memory", "96M", "--restart", "--wait").Stdout; !strings.Contains(out, "VM w1 is running on n") {
		t.Errorf("vm update --restart --wait printed %q", out)
	}
	res = runCLI(t, addr, c.token, "vm", "update", "w1", "--memory", "0")
	if res.Code != 1 || !strings.HasPrefix(res.Stderr, "Error: --memory") {
		t.Errorf("a bad size: %s", res)
	}

	res = runCLI(t, addr, c.token, "vm", "delete", "w1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "pass --force") {
		t.Errorf("deleting a running VM without --force: %s", res)
	}
	if out := cli("vm", "delete", "w1", "--force", "--wait").Stdout; !strings.Contains(out, "removed the domain of VM w1") {
		t.Errorf("vm delete --wait printed %q", out)
	}
	if _, err := c.leader().client(c.token).Removal(context.Background(), w1.ID); !client.IsNotFound(err) {
		t.Errorf("after delete --wait the removal of w1 is still there: %v", err)
	}
	cli("vm", "delete", "huge") // pending: nothing runs, no confirmation
}
