package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/ids"
)

// vmsOn creates n VMs and returns those the scheduler put on node.
func vmsOn(t *testing.T, c *testCluster, node *testNode, n int) []string {
	t.Helper()
	leader := c.waitLeader()
	var out []string
	for i := 0; len(out) < n && i < 6*n; i++ {
		id, _ := createVM(t, leader, fmt.Sprintf("ha-%d", i))
		if vm := waitRunning(t, leader, id); vm.Node == node.cfg.Cluster.NodeID {
			out = append(out, id)
		}
	}
	if len(out) < n {
		t.Fatalf("only %d vms landed on %s", len(out), node.cfg.Cluster.NodeName)
	}
	return out
}

// killHost stops a node's agent and its guests at once, as a host that loses
// power does.
func killHost(t *testing.T, c *testCluster, n *testNode) {
	t.Helper()
	c.stop(n)
	ctx := context.Background()
	doms, err := n.driver.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if d.State == hypervisor.StateRunning || d.State == hypervisor.StatePaused {
			if err := n.driver.Destroy(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCluster_DeadHostVMsRestartElsewhereAfterTheFenceTimeout(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	victim := c.followers()[0]
	haVMs := vmsOn(t, c, victim, 2)
	// A VM without HA on the victim stays there, and the record says why.
	pet := ids.New()
	ctx0, cancel0 := context.WithTimeout(asRoot(context.Background(), t, c.waitLeader().agent), 10*time.Second)
	defer cancel0()
	if _, err := c.waitLeader().agent.Apply(ctx0, &fsm.CreateVM{ID: pet, Spec: fsm.VMSpec{Name: "pet", VCPUs: 1, MemoryMiB: 128, DiskGiB: 1,
		HA: &fsm.HASpec{Disabled: true}, Placement: &fsm.PlacementSpec{Nodes: []string{victim.cfg.Cluster.NodeName}}}, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c.waitLeader(), pet)
	killed := time.Now()
	killHost(t, c, victim)
	leader := c.waitLeader()
	var fo fsm.Failover
	waitFor(t, 20*time.Second, "failover record", func() bool {
		fos := leader.agent.FSM().Failovers()
		if len(fos) == 0 {
			return false
		}
		fo = fos[0]
		return !fo.CompletedAt.IsZero()
	})
	if fo.Node != victim.cfg.Cluster.NodeID || len(fo.VMs) != 2 || fo.Cause == "" {
		t.Fatalf("failover record %+v", fo)
	}
	if len(fo.LeftBehind) != 1 || fo.LeftBehind[0].VMID != pet || fo.LeftBehind[0].Reason != "HA is off for it" {
		t.Fatalf("left behind %+v, want the pet VM with its reason", fo.LeftBehind)
	}
	// Safety: nothing restarted before the host had surely fenced itself.
	if fo.RestartedAt.Before(fo.FencedAt) || fo.FencedAt.Sub(killed) < victim.cfg.Cluster.Lease.Timeout-2*victim.cfg.Cluster.Lease.Heartbeat {
		t.Fatalf("restarted at %v, fenced at %v, %v after the kill; the fence timeout is %v", fo.RestartedAt, fo.FencedAt, fo.FencedAt.Sub(killed), victim.cfg.Cluster.Lease.Timeout)
	}
	for _, v := range fo.VMs {
		if v.Node == "" || v.Node == victim.cfg.Cluster.NodeID || v.RunningAt.IsZero() {
			t.Fatalf("vm %+v did not run again elsewhere", v)
		}
	}
	for _, id := range haVMs {
		vm := waitRunning(t, leader, id)
		if vm.Node == victim.cfg.Cluster.NodeID {
			t.Fatalf("vm %s still on the dead host", id)
		}
	}
	if n, _ := leader.agent.FSM().Node(victim.cfg.Cluster.NodeID); n.Status != fsm.NodeFailed {
		t.Fatalf("dead host is %s (%s)", n.Status, n.StatusCause)
	}
	c.start(victim)
	ctx := context.Background()
	// The host comes back: it removes its stale copies, runs none of them,
	// and runs again the VM that stayed its own.
	waitFor(t, 20*time.Second, "the returning host alive, holding only the VM left on it", func() bool {
		n, _ := leader.agent.FSM().Node(victim.cfg.Cluster.NodeID)
		doms, err := victim.driver.List(ctx)
		return n.Status == fsm.NodeAlive && err == nil && len(doms) == 1 && doms[0].ID == pet
	})
	if vm := waitRunning(t, leader, pet); vm.Node != victim.cfg.Cluster.NodeID {
		t.Fatalf("the VM left behind moved to %s", vm.Node)
	}
	c.waitConverged()
}

func TestCluster_HostWithoutLeaseFencesItsHAVMs(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	victim := c.followers()[0]
	ids := vmsOn(t, c, victim, 2)
	// A VM that opted out of HA keeps running.
	leader := c.waitLeader()
	ctx := asRoot(context.Background(), t, leader.agent)
	vm, _ := leader.agent.FSM().VM(ids[1])
	spec := vm.Spec
	spec.HA = &fsm.HASpec{Disabled: true}
	if _, err := leader.agent.Apply(ctx, &fsm.UpdateVM{ID: ids[1], Spec: spec, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "victim sees the update", func() bool {
		v, _ := victim.agent.FSM().VM(ids[1])
		return v.Spec.HA != nil
	})
	// The victim loses the majority: no leader, no lease renewal.
	for _, n := range c.nodes {
		if n != victim {
			c.stop(n)
		}
	}
	lost := time.Now()
	waitFor(t, 10*time.Second, "the HA vm fenced", func() bool {
		d, err := victim.driver.Inspect(ctx, ids[0])
		return err == nil && d.State != hypervisor.StateRunning
	})
	if took := time.Since(lost); took > victim.cfg.Cluster.Lease.Timeout {
		t.Fatalf("fenced %v after losing the leader, later than the fence timeout %v", took, victim.cfg.Cluster.Lease.Timeout)
	}
	if d, err := victim.driver.Inspect(ctx, ids[1]); err != nil || d.State != hypervisor.StateRunning {
		t.Fatalf("the vm without HA was stopped too: %+v %v", d, err)
	}
	if victim.host.LeaseValid() {
		t.Fatal("the fenced host still thinks it holds its lease")
	}
	// The others come back; the victim renews, catches up and runs its VM again.
	for _, n := range c.nodes {
		if n != victim {
			c.start(n)
		}
	}
	waitFor(t, 20*time.Second, "the fenced vm runs again", func() bool {
		d, err := victim.driver.Inspect(ctx, ids[0])
		v, _ := c.waitLeader().agent.FSM().VM(ids[0])
		if v.Node != victim.cfg.Cluster.NodeID {
			return true // failed over meanwhile: fine too
		}
		return err == nil && d.State == hypervisor.StateRunning
	})
	// A second loss fences the host again: the renewal that lifted the first
	// fence left the fence watcher waiting for the new deadline.
	waitFor(t, 10*time.Second, "the victim holds its lease again", victim.host.LeaseValid)
	for _, n := range c.nodes {
		if n != victim {
			c.stop(n)
		}
	}
	lost = time.Now()
	waitFor(t, 2*victim.cfg.Cluster.Lease.Timeout, "the host fenced a second time", victim.host.Fenced)
	if took := time.Since(lost); took > victim.cfg.Cluster.Lease.Timeout {
		t.Fatalf("fenced again %v after losing the leader, later than the fence timeout %v", took, victim.cfg.Cluster.Lease.Timeout)
	}
}

// TestCluster_SourceDeadMidMigrationFailsOver kills a migration's source host
// mid-copy. The destination settles the migration once the source is surely
// fenced (failed, as an HA VM's copy cannot finish any more), and the leader's
// failover then restarts the VM on a live host.
func TestCluster_SourceDeadMidMigrationFailsOver(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	migID, vmID, src, _ := slowMigration(t, c)
	before, _ := c.waitLeader().agent.FSM().VM(vmID)
	killHost(t, c, src)
	leader := c.waitLeader()
	var m fsm.Migration
	waitFor(t, 20*time.Second, "the migration settled by its destination", func() bool {
		m, _ = leader.agent.FSM().Migration(migID)
		return m.State.Final()
	})
	if m.State != fsm.MigrationFailed || !strings.Contains(m.Error, "source host failed") {
		t.Fatalf("migration ended %s (%q), want failed because the source died", m.State, m.Error)
	}
	var vm fsm.VM
	waitFor(t, 20*time.Second, "the vm running on a live host", func() bool {
		vm, _ = leader.agent.FSM().VM(vmID)
		return vm.Node != src.cfg.Cluster.NodeID && vm.State == fsm.VMRunning
	})
	if vm.Generation <= before.Generation || vm.Migration != "" {
		t.Fatalf("vm after its source died mid-migration: node %s generation %d (was %d), migration %q", vm.Node, vm.Generation, before.Generation, vm.Migration)
	}
	found := false
	for _, fo := range leader.agent.FSM().Failovers() {
		for _, v := range fo.VMs {
			found = found || (fo.Node == src.cfg.Cluster.NodeID && v.VMID == vmID && v.Node == vm.Node)
		}
	}
	if !found {
		t.Fatalf("no failover record moves vm %s off %s", vmID, src.cfg.Cluster.NodeName)
	}
	// One copy only, on the node the state names.
	running := 0
	for _, n := range c.up() {
		if d, err := n.driver.Inspect(context.Background(), vmID); err == nil && d.State == hypervisor.StateRunning {
			running++
		}
	}
	if running != 1 {
		t.Fatalf("the guest runs on %d live hosts, want 1", running)
	}
}

// TestCluster_SuspectHostThatRenewsIsAliveAtOnce marks a healthy follower
// suspect, as the leader does when its lease renewals are late (a hung agent,
// a stalled guard). Its next renewal must make it alive again within a few
// heartbeats, not at the member reconcile's next tick: until then placement
// passes it over.
func TestCluster_SuspectHostThatRenewsIsAliveAtOnce(t *testing.T) {
	c := newTestClusterWith(t, 3, 3, func(_ int, cfg *Config) { cfg.Cluster.ReconcileInterval = time.Minute })
	leader := c.waitLeader()
	victim := c.followers()[0]
	id := victim.cfg.Cluster.NodeID
	waitFor(t, 10*time.Second, "the follower registered alive", func() bool {
		n, err := leader.agent.FSM().Node(id)
		return err == nil && n.Status == fsm.NodeAlive
	})
	if _, err := leader.agent.Apply(context.Background(), &fsm.SetNodeStatus{ID: id, Status: fsm.NodeSuspect,
		Cause: "heartbeat: no lease renewal for 3.0s", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*victim.cfg.Cluster.Lease.Heartbeat, "the renewing host alive again", func() bool {
		n, err := leader.agent.FSM().Node(id)
		return err == nil && n.Status == fsm.NodeAlive
	})
}
