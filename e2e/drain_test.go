package e2e

import (
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// A drain is an operation (issue 15), which `node drain` follows: one that
// cannot empty its node fails at once naming the VM that cannot move, and
// cancelling it ends the maintenance; the drain of an empty node succeeds.
// A VM that fits nowhere fails `vm create` at once, which waits by
// default. Real binary, real agents (sim hosts).
func TestE2E_DrainIsAnOperation(t *testing.T) {
	t.Parallel()
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
	if out := cli("vm", "create", "pinned", "--memory", "64", "--disk", "1", "--on-node", "n1").Stdout; !strings.Contains(out, "VM pinned is running on n1") {
		t.Fatalf("vm create waits until the VM runs: %q", out)
	}
	res := runCLI(t, addr, c.token, "vm", "create", "nowhere", "--memory", "64", "--disk", "1", "--node-selector", "gpu=true")
	if res.Code != 1 || !strings.Contains(res.Stderr, "is pending: no node fits") {
		t.Errorf("vm create of a VM that fits nowhere: %s", res)
	}

	res = runCLI(t, addr, c.token, "node", "drain", "n1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "drain of node n1 is stuck: 1 of 1 VM(s) left cannot move (pinned: ") {
		t.Fatalf("drain of a node whose VM cannot move: %s", res)
	}
	var op client.Operation
	if err := cliJSON(t, addr, c.token, &op, "operation", "show", "drain:n1"); err != nil {
		t.Fatal(err)
	}
	if op.Kind != "drain" || op.State != client.OperationFailed || op.Object.Name != "n1" || !op.MayCancel || !strings.HasPrefix(op.ID, "drain:") {
		t.Errorf("the stuck drain's operation %+v", op)
	}
	if err := cliJSON(t, addr, c.token, &op, "operation", "cancel", op.ID); err != nil || op.State != client.OperationCancelled {
		t.Errorf("cancel of the drain: %+v, %v", op, err)
	}
	var n client.Node
	if err := cliJSON(t, addr, c.token, &n, "node", "show", "n1"); err != nil || n.Maintenance {
		t.Errorf("n1 after its drain was cancelled: %+v, %v", n, err)
	}

	// n3 holds no VM: its drain succeeds at once.
	if out := cli("node", "drain", "n3").Stdout; !strings.HasSuffix(out, "Node n3 is drained: no VMs left.\n") {
		t.Errorf("drain of an empty node printed %q", out)
	}
	if err := cliJSON(t, addr, c.token, &op, "operation", "show", "drain:n3"); err != nil || op.State != client.OperationSucceeded || op.Progress != 100 {
		t.Errorf("the empty node's drain: %+v, %v", op, err)
	}
	cli("node", "undrain", "n3")
	if res := runCLI(t, addr, c.token, "operation", "show", "drain:n3"); res.Code != 1 || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("a drain after the undrain: %s", res)
	}
}
