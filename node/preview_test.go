package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// A follower's dry runs are the leader's: asked over the internal API, decided
// on the leader's state, errors carried back as the sentinels they are.
func TestCluster_DryRunsOnAFollowerAreDecidedByTheLeader(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	id, _ := createVM(t, leader, "dry-run")
	vm := waitRunning(t, leader, id)
	follower := c.followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctl := follower.node.Control

	target, err := ctl.MigrationTarget(ctx, id, fsm.MigrateLive, "")
	if err != nil || target == "" || target == vm.Node {
		t.Fatalf("migration target through a follower: %q, %v (the vm runs on %s)", target, err, vm.Node)
	}
	if _, err := ctl.MigrationTarget(ctx, "no-such-vm", fsm.MigrateLive, ""); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("an unknown vm through a follower: %v, want ErrNotFound", err)
	}
	if _, err := ctl.MigrationTarget(ctx, id, fsm.MigrateLive, vm.Node); err == nil || fsm.ErrorCode(err) == "" {
		t.Fatalf("the vm's own node as target: %v, want an fsm error", err)
	}
	plan, err := ctl.FailoverPlan(ctx, vm.Node)
	if err != nil || len(plan.Moves) != 1 || plan.Moves[0].VMID != id || plan.Moves[0].Node == vm.Node {
		t.Fatalf("failover plan through a follower: %+v, %v", plan, err)
	}
	stuck, err := ctl.DrainPreview(ctx, vm.Node)
	if err != nil || len(stuck) != 0 {
		t.Fatalf("drain preview through a follower: %+v, %v (two other nodes have room)", stuck, err)
	}
	if _, err := ctl.DrainPreview(ctx, "no-such-node"); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("an unknown node's drain preview: %v, want ErrNotFound", err)
	}
}
