package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// A host killed outright: its VMs that are not moved show "unknown" with the
// reason while it is failed, its failover lists them as left behind, a
// `vm delete --wait` of one of them says the host must come back first, and
// once the host returns the VM runs again and the deleted one's domain is
// removed. Real binary, real agents (sim hosts), a real SIGKILL.
func TestE2E_VMsOnAKilledHostAreUnknownUntilItReturns(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, func(i int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--fence-timeout", "2s", "--heartbeat-interval", "250ms", "--label", fmt.Sprintf("slot=%d", i))
	})
	leader := c.leader()
	var victim *agent
	slot := 0
	for i, a := range c.agents {
		if a != leader {
			victim, slot = a, i
			break
		}
	}
	addr, token := leader.addr(), c.token
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	show := func(name string) (client.VM, error) {
		var vm client.VM
		err := cliJSON(t, addr, token, &vm, "vm", "show", name)
		return vm, err
	}
	for _, name := range []string{"keep", "gone"} {
		cli("vm", "create", name, "--memory", "64", "--disk", "1", "--no-ha",
			"--node-selector", fmt.Sprintf("slot=%d", slot), "--wait", "--timeout", "30s")
	}

	victim.kill()
	testutil.Eventually(t, time.Minute, "keep shown unknown with a reason", func() error {
		vm, err := show("keep")
		switch {
		case err != nil:
			return err
		case vm.State != "unknown" || !strings.Contains(vm.StateReason, victim.name) || vm.LastState != client.StateRunning:
			return fmt.Errorf("state %q, reason %q, last state %q", vm.State, vm.StateReason, vm.LastState)
		}
		return nil
	})
	if vms, err := cliVMList(t, leader, token); err != nil || !slices.ContainsFunc(vms, func(vm client.VM) bool { return vm.Name == "keep" && vm.State == "unknown" }) {
		t.Errorf("vm list does not show keep unknown: %v, %+v", err, vms)
	}
	testutil.Eventually(t, time.Minute, "the failover lists keep as left behind", func() error {
		fos, err := leader.client(token).Failovers(context.Background(), victim.name)
		if err != nil || len(fos) == 0 {
			return fmt.Errorf("failovers of %s: %v, %d", victim.name, err, len(fos))
		}
		for _, vm := range fos[0].LeftBehind {
			if vm.VMName == "keep" && vm.Reason != "" {
				return nil
			}
		}
		return fmt.Errorf("left behind: %+v", fos[0].LeftBehind)
	})
	if out := cli("failover", "show", mustFailoverID(t, leader, token, victim.name)).Stdout; !strings.Contains(out, "keep") {
		t.Errorf("failover show does not list keep:\n%s", out)
	}

	res := runCLI(t, addr, token, "vm", "delete", "gone", "--force", "--wait", "--timeout", "30s")
	if res.Code != 1 || !strings.Contains(res.Stderr, "is failed") || !strings.Contains(res.Stdout, "Deleted VM gone") {
		t.Errorf("delete --wait of a VM on a failed host: %s", res)
	}
	victim.start()
	testutil.Eventually(t, time.Minute, "keep running again once its host is back", func() error {
		vm, err := show("keep")
		if err != nil {
			return err
		}
		if vm.State != client.StateRunning || vm.StateReason != "" {
			return fmt.Errorf("state %q, reason %q", vm.State, vm.StateReason)
		}
		return nil
	})
	testutil.Eventually(t, time.Minute, "the returned host confirms the deleted VM's domain gone", func() error {
		rms, err := leader.client(token).Removals(context.Background(), "")
		if err != nil {
			return err
		}
		if len(rms) != 0 {
			return fmt.Errorf("removals still under way: %+v", rms)
		}
		return nil
	})
}

// mustFailoverID returns the ID of the newest failover of node.
func mustFailoverID(t *testing.T, a *agent, token, node string) string {
	t.Helper()
	fos, err := a.client(token).Failovers(context.Background(), node)
	if err != nil || len(fos) == 0 {
		t.Fatalf("failovers of %s: %v, %d", node, err, len(fos))
	}
	return fos[0].ID
}
