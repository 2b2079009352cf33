package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/ids"
)

// stateDiff returns "" when two FSMs hold the same state, else what differs.
func stateDiff(a, b *fsm.FSM) string {
	views := func(f *fsm.FSM) map[string]string {
		out := map[string]string{}
		for name, v := range map[string]any{"nodes": f.Nodes(), "vms": f.VMs(), "tokens": f.Tokens(), "cluster": f.Cluster()} {
			j, _ := json.Marshal(v)
			out[name] = string(j)
		}
		return out
	}
	va, vb := views(a), views(b)
	for k := range va {
		if va[k] != vb[k] {
			return fmt.Sprintf("%s:\n  %s\n  %s", k, va[k], vb[k])
		}
	}
	return ""
}

func TestCluster_ThreeNodesElectAndReplicateFollowerWrites(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()

	waitFor(t, 10*time.Second, "three alive voters", func() bool {
		st := leader.agent.Status()
		voters := 0
		for _, m := range st.Members {
			if m.Status == "alive" && m.RaftRole == "voter" {
				voters++
			}
		}
		return voters == 3 && len(leader.agent.FSM().Nodes()) == 3
	})
	waitFor(t, 10*time.Second, "root token bootstrapped", func() bool {
		_, err := leader.agent.FSM().TokenByHash(fsm.HashSecret("test-root-token-0123456789"))
		return err == nil
	})

	follower := c.followers()[0]
	id, idx := createVM(t, follower, "web-1")
	for _, n := range c.up() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.agent.FSM().WaitForIndex(ctx, idx); err != nil {
			t.Fatalf("%s never applied index %d: %v", n.cfg.Cluster.NodeName, idx, err)
		}
		cancel()
		if _, err := n.agent.FSM().VM(id); err != nil {
			t.Fatalf("%s does not hold the VM written on a follower: %v", n.cfg.Cluster.NodeName, err)
		}
	}

	// The VM is placed at creation and its host runs it and reports it.
	var vm fsm.VM
	waitFor(t, 10*time.Second, "vm running on its node", func() bool {
		vm, _ = follower.agent.FSM().VM(id)
		return vm.Node != "" && vm.State == fsm.VMRunning
	})
	for _, n := range c.up() {
		_, err := n.driver.Inspect(context.Background(), id)
		if onIt := err == nil; onIt != (n.cfg.Cluster.NodeID == vm.Node) {
			t.Fatalf("domain on %s: %v, but the vm is assigned to %s", n.cfg.Cluster.NodeName, onIt, vm.Node)
		}
	}
	c.waitConverged()
}

func TestCluster_LeaderKilledNewLeaderTakesWrites(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	old := c.waitLeader()
	createVM(t, old, "before")
	c.stop(old)

	leader := c.waitLeader()
	if leader == old {
		t.Fatal("the stopped node is still the leader")
	}
	follower := c.followers()[0]
	createVM(t, follower, "after")
	c.waitConverged()
	for _, n := range c.up() {
		for _, name := range []string{"before", "after"} {
			if _, err := n.agent.FSM().VMByName("", name); err != nil {
				t.Fatalf("%s lost vm %s: %v", n.cfg.Cluster.NodeName, name, err)
			}
		}
	}

	// The old leader comes back from its data dir and catches up. It restarts
	// without --join, yet finds the others again from the members its log
	// remembers, and forwards writes to the new leader.
	old.cfg.Cluster.Join = nil
	c.start(old)
	waitFor(t, 15*time.Second, "restarted node catches up", func() bool {
		_, err := old.agent.FSM().VMByName("", "after")
		return err == nil
	})
	waitFor(t, 15*time.Second, "restarted node back in gossip", func() bool {
		ok, members := old.agent.GossipKnows(leader.cfg.Cluster.NodeID)
		return ok && members == 3
	})
	createVM(t, old, "through-restarted")
	c.waitConverged()
}

func TestCluster_PartitionedMinorityCannotCommit(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	old := c.waitLeader()
	createVM(t, old, "shared")
	for _, other := range c.nodes {
		if other != old {
			c.net.partition(old.raftAddr(), other.raftAddr())
		}
	}

	// The isolated old leader cannot commit anything.
	b, _ := fsm.Encode(&fsm.CreateVM{ID: "minority-vm", Spec: fsm.VMSpec{Name: "minority", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: time.Now().UTC()})
	if err := old.agent.Raft().Apply(b, 2*time.Second).Error(); err == nil {
		t.Fatal("an isolated leader committed a write")
	}

	// The majority elects a new leader and goes on.
	var leader *testNode
	waitFor(t, 15*time.Second, "majority elects a new leader", func() bool {
		for _, n := range c.nodes {
			if n != old && n.agent.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	createVM(t, leader, "majority")

	c.net.heal()
	c.waitLeader()
	c.waitConverged()
	for _, n := range c.up() {
		if _, err := n.agent.FSM().VM("minority-vm"); err == nil {
			t.Fatalf("%s holds the write the minority could not commit", n.cfg.Cluster.NodeName)
		}
		if _, err := n.agent.FSM().VMByName("", "majority"); err != nil {
			t.Fatalf("%s lacks the majority's write: %v", n.cfg.Cluster.NodeName, err)
		}
	}
}

func TestCluster_FiveNodesSurviveTwoVoterFailures(t *testing.T) {
	c := newTestCluster(t, 5, 5)
	leader := c.waitLeader()
	waitFor(t, 10*time.Second, "five voters", func() bool {
		f := leader.agent.Raft().GetConfiguration()
		return f.Error() == nil && countSuffrage(f.Configuration(), raft.Voter) == 5
	})
	c.stop(c.followers()[0])
	c.stop(leader)
	next := c.waitLeader()
	createVM(t, c.followers()[0], "survivor")
	c.waitConverged()
	if _, err := next.agent.FSM().VMByName("", "survivor"); err != nil {
		t.Fatal(err)
	}
}

func TestCluster_FourthNodeJoinsAsNonvoterAndReplacesFailedVoter(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	cfg := TestConfig()
	cfg.Cluster.NodeName = "node-4"
	cfg.Cluster.Voters = 3
	cfg.Cluster.Join = []string{fmt.Sprintf("127.0.0.1:%d", leader.cfg.Cluster.GossipPort)}
	fourth := c.add(cfg)

	waitFor(t, 15*time.Second, "node-4 is a non-voter with the data", func() bool {
		f := leader.agent.Raft().GetConfiguration()
		if f.Error() != nil {
			return false
		}
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == fourth.cfg.Cluster.NodeID {
				return s.Suffrage == raft.Nonvoter && len(fourth.agent.FSM().Nodes()) == 4
			}
		}
		return false
	})

	// A voter that stays failed past the grace period is replaced by node-4.
	victim := c.followers()[0]
	if victim == fourth {
		victim = c.followers()[1]
	}
	c.stop(victim)
	waitFor(t, 30*time.Second, "node-4 promoted and the failed voter removed", func() bool {
		l := c.waitLeader()
		f := l.agent.Raft().GetConfiguration()
		if f.Error() != nil {
			return false
		}
		roles := map[string]raft.ServerSuffrage{}
		for _, s := range f.Configuration().Servers {
			roles[string(s.ID)] = s.Suffrage
		}
		_, victimIn := roles[victim.cfg.Cluster.NodeID]
		return roles[fourth.cfg.Cluster.NodeID] == raft.Voter && !victimIn
	})
	waitFor(t, 10*time.Second, "failed node recorded as failed", func() bool {
		n, err := fourth.agent.FSM().Node(victim.cfg.Cluster.NodeID)
		return err == nil && n.Status == fsm.NodeFailed
	})
}

func TestCluster_HostReconcilerFollowsDesiredState(t *testing.T) {
	c := newTestCluster(t, 1, 1)
	n := c.waitLeader()
	id, _ := createVM(t, n, "svc")
	ctx := context.Background()
	waitState := func(want hypervisor.DomainState, vmWant fsm.VMState) {
		t.Helper()
		waitFor(t, 10*time.Second, fmt.Sprintf("domain %s and vm %s", want, vmWant), func() bool {
			d, err := n.driver.Inspect(ctx, id)
			vm, _ := n.agent.FSM().VM(id)
			return err == nil && d.State == want && vm.State == vmWant
		})
	}
	waitState(hypervisor.StateRunning, fsm.VMRunning)
	for _, step := range []struct {
		action string
		dom    hypervisor.DomainState
		vm     fsm.VMState
	}{
		{fsm.ActionPause, hypervisor.StatePaused, fsm.VMPaused},
		{fsm.ActionResume, hypervisor.StateRunning, fsm.VMRunning},
		{fsm.ActionStop, hypervisor.StateStopped, fsm.VMStopped},
		{fsm.ActionStart, hypervisor.StateRunning, fsm.VMRunning},
	} {
		if _, err := n.agent.Apply(asRoot(ctx, t, n.agent), &fsm.VMAction{ID: id, Action: step.action, At: time.Now()}); err != nil {
			t.Fatalf("%s: %v", step.action, err)
		}
		waitState(step.dom, step.vm)
	}

	// A restart is carried out once and acknowledged.
	if _, err := n.agent.Apply(asRoot(ctx, t, n.agent), &fsm.VMAction{ID: id, Action: fsm.ActionRestart, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "restart acknowledged", func() bool {
		vm, _ := n.agent.FSM().VM(id)
		return vm.ReportedRestartSeq == 1 && vm.State == fsm.VMRunning
	})

	// A crash behind the agent's back is seen and the VM started again.
	n.driver.Crash(id)
	waitState(hypervisor.StateRunning, fsm.VMRunning)

	// A domain nobody asked for is removed; a deleted VM's domain goes away.
	if _, err := n.agent.Apply(asRoot(ctx, t, n.agent), &fsm.DeleteVM{ID: id}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "domain of deleted vm removed", func() bool {
		_, err := n.driver.Inspect(ctx, id)
		return err != nil
	})
}

func countSuffrage(cfg raft.Configuration, s raft.ServerSuffrage) int {
	n := 0
	for _, srv := range cfg.Servers {
		if srv.Suffrage == s {
			n++
		}
	}
	return n
}

func TestCluster_ConcurrentWritesShareEntriesButKeepTheirOwnResults(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	createVM(t, leader, "warm-up")
	before := leader.agent.Raft().LastIndex()

	const names, writers = 50, 200
	type outcome struct {
		name string
		err  error
	}
	results := make(chan outcome, writers)
	nodes := c.up()
	root := make([]context.Context, len(nodes))
	for i, n := range nodes {
		root[i] = asRoot(context.Background(), t, n.agent)
	}
	for i := 0; i < writers; i++ {
		go func() {
			name := fmt.Sprintf("vm-%d", i%names)
			cmd := &fsm.CreateVM{ID: fmt.Sprintf("id-%d", i), Spec: fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 16, DiskGiB: 1}, At: time.Now().UTC()}
			_, err := nodes[i%len(nodes)].agent.Apply(root[i%len(nodes)], cmd)
			results <- outcome{name, err}
		}()
	}
	won := map[string]int{}
	for i := 0; i < writers; i++ {
		r := <-results
		switch {
		case r.err == nil:
			won[r.name]++
		case errors.Is(r.err, fsm.ErrConflict):
		default:
			t.Fatalf("create %s: %v", r.name, r.err)
		}
	}
	for i := 0; i < names; i++ {
		if n := won[fmt.Sprintf("vm-%d", i)]; n != 1 {
			t.Fatalf("vm-%d was created %d times, want exactly once", i, n)
		}
	}
	if grew := leader.agent.Raft().LastIndex() - before; grew >= writers {
		t.Errorf("the log grew by %d entries for %d concurrent writes: nothing was coalesced", grew, writers)
	}
	c.waitConverged()
}

func TestCluster_NodeThatLeavesIsRemovedFromRaft(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	cfg := TestConfig()
	cfg.Cluster.NodeName = "node-4"
	cfg.Cluster.Voters = 3
	cfg.Cluster.Join = []string{fmt.Sprintf("127.0.0.1:%d", leader.cfg.Cluster.GossipPort)}
	fourth := c.add(cfg)
	inRaft := func() bool {
		f := leader.agent.Raft().GetConfiguration()
		if f.Error() != nil {
			return false
		}
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == fourth.cfg.Cluster.NodeID {
				return true
			}
		}
		return false
	}
	waitFor(t, 15*time.Second, "node-4 in raft", inRaft)

	if err := fourth.agent.Leave(); err != nil {
		t.Fatal(err)
	}
	fourth.srv.Close()
	fourth.stores.Close()
	fourth.down = true
	waitFor(t, 15*time.Second, "node-4 removed from raft and recorded as left", func() bool {
		n, err := leader.agent.FSM().Node(fourth.cfg.Cluster.NodeID)
		return !inRaft() && err == nil && n.Status == fsm.NodeLeft
	})
}

func TestCluster_RestartPolicyDecidesAfterAnUnaskedStop(t *testing.T) {
	c := newTestCluster(t, 1, 1)
	n := c.waitLeader()
	ctx := context.Background()
	create := func(name, policy string) string {
		t.Helper()
		id := ids.New()
		spec := fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1, RestartPolicy: policy}
		if _, err := n.agent.Apply(asRoot(ctx, t, n.agent), &fsm.CreateVM{ID: id, Spec: spec, At: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, name+" running", func() bool {
			vm, _ := n.agent.FSM().VM(id)
			return vm.State == fsm.VMRunning
		})
		return id
	}
	vmIs := func(id string, cond func(fsm.VM) bool) func() bool {
		return func() bool {
			vm, err := n.agent.FSM().VM(id)
			return err == nil && cond(vm)
		}
	}

	// on-failure: a crash (or a kill) is restarted and recorded.
	onFailure := create("on-failure", fsm.RestartOnFailure)
	n.driver.Crash(onFailure)
	waitFor(t, 10*time.Second, "crashed on-failure vm restarted and its crash recorded", vmIs(onFailure, func(vm fsm.VM) bool {
		d, err := n.driver.Inspect(ctx, onFailure)
		return vm.Crashes == 1 && vm.LastCrash == "crashed" && vm.State == fsm.VMRunning && err == nil && d.State == hypervisor.StateRunning
	}))
	// on-failure: a guest that powers itself off stays off, and the record says so.
	if err := n.driver.Shutdown(ctx, onFailure, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "powered-off on-failure vm left stopped", vmIs(onFailure, func(vm fsm.VM) bool {
		return vm.DesiredState == fsm.VMStopped && vm.State == fsm.VMStopped
	}))

	// never: even a crash leaves it stopped.
	never := create("never", fsm.RestartNever)
	n.driver.Crash(never)
	waitFor(t, 10*time.Second, "crashed never vm left stopped", vmIs(never, func(vm fsm.VM) bool {
		return vm.Crashes == 1 && vm.DesiredState == fsm.VMStopped && vm.State == fsm.VMStopped
	}))

	// always (the default): a power-off is started again.
	always := create("always", "")
	if err := n.driver.Shutdown(ctx, always, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "powered-off always vm started again", func() bool {
		d, err := n.driver.Inspect(ctx, always)
		vm, _ := n.agent.FSM().VM(always)
		return err == nil && d.State == hypervisor.StateRunning && vm.DesiredState == fsm.VMRunning
	})
}
