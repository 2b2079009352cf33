package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// The leader's retention loop removes, on every node, an old finished
// migration and failover, an expired token and a node that left long ago;
// what is recent or still in force stays.
func TestCluster_RetentionRemovesOldHistory(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(cmd fsm.Command) {
		t.Helper()
		if _, err := leader.agent.Apply(ctx, cmd); err != nil {
			t.Fatalf("apply %s: %v", cmd.Type(), err)
		}
	}
	now := time.Now().UTC()
	old := now.Add(-40 * 24 * time.Hour)

	// A node that left four days ago, with a failover record 40 days old.
	// The record comes first (the node failed just now, which is not yet
	// past the reap interval): the retention loop may reap the node as soon
	// as it has left.
	must(&fsm.RegisterNode{Node: fsm.Node{ID: "ghost", Name: "ghost", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 1, MemoryMiB: 128, DiskGiB: 1}}, At: old})
	must(&fsm.SetNodeStatus{ID: "ghost", Status: fsm.NodeFailed, Cause: "test", At: now})
	must(&fsm.StartFailover{Failover: fsm.Failover{ID: "fo-old", Node: "ghost", RestartedAt: old}})
	must(&fsm.UpdateFailover{ID: "fo-old", Completed: true, At: old})
	must(&fsm.SetNodeStatus{ID: "ghost", Status: fsm.NodeLeft, Cause: "test", At: now.Add(-96 * time.Hour)})
	// Tokens: one expired, one not.
	must(&fsm.CreateToken{Token: fsm.Token{ID: "tok-expired", Name: "expired", Role: "reader", Hash: fsm.HashSecret("expired"), CreatedAt: old, ExpiresAt: now.Add(-time.Minute)}})
	must(&fsm.CreateToken{Token: fsm.Token{ID: "tok-live", Name: "live", Role: "reader", Hash: fsm.HashSecret("live"), CreatedAt: old, ExpiresAt: now.Add(time.Hour)}})
	// A migration that ended 40 days ago.
	id, _ := createVM(t, leader, "web-1")
	var vm fsm.VM
	waitFor(t, 10*time.Second, "vm running", func() bool {
		vm, _ = leader.agent.FSM().VM(id)
		return vm.State == fsm.VMRunning
	})
	target := ""
	for _, n := range c.up() {
		if n.cfg.Cluster.NodeID != vm.Node {
			target = n.cfg.Cluster.NodeID
		}
	}
	must(&fsm.CreateMigration{ID: "mig-old", VMID: id, Mode: fsm.MigrateCold, Target: target, Reason: "test", At: old})
	must(&fsm.CancelMigration{ID: "mig-old", At: old})

	gone := func(f *fsm.FSM) error {
		if _, err := f.Node("ghost"); !errors.Is(err, fsm.ErrNotFound) {
			return errors.New("node ghost still there")
		}
		if _, err := f.Failover("fo-old"); !errors.Is(err, fsm.ErrNotFound) {
			return errors.New("failover fo-old still there")
		}
		if _, err := f.Token("tok-expired"); !errors.Is(err, fsm.ErrNotFound) {
			return errors.New("expired token still there")
		}
		if m, err := f.Migration("mig-old"); err == nil && m.FinishedAt.Equal(old) {
			return errors.New("old migration still there")
		}
		return nil
	}
	for _, n := range c.up() {
		waitFor(t, 15*time.Second, "old history removed on "+n.cfg.Cluster.NodeName, func() bool { return gone(n.agent.FSM()) == nil })
		if _, err := n.agent.FSM().Token("tok-live"); err != nil {
			t.Fatalf("%s: a token in force was removed: %v", n.cfg.Cluster.NodeName, err)
		}
		if len(n.agent.FSM().Nodes()) != 3 {
			t.Fatalf("%s: %d nodes, want the 3 members", n.cfg.Cluster.NodeName, len(n.agent.FSM().Nodes()))
		}
	}
	c.waitConverged()
}
