package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/ids"
)

func TestCluster_LiveMigrationMovesTheGuest(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	id, _ := createVM(t, leader, "mover")
	vm := waitRunning(t, leader, id)
	src := c.nodeByID(vm.Node)
	var dst *testNode
	for _, n := range c.nodes {
		if n != src {
			dst = n
			break
		}
	}
	ctx := context.Background()
	migID := ids.New()
	// Proposed through a follower, like the API on any node would.
	follower := c.followers()[0]
	if _, err := follower.agent.Apply(asRoot(ctx, t, follower.agent), &fsm.CreateMigration{ID: migID, VMID: id, Mode: fsm.MigrateLive, Target: dst.cfg.Cluster.NodeID, Reason: "user", At: time.Now().UTC()}); err != nil {
		t.Fatalf("create migration: %v", err)
	}
	var m fsm.Migration
	waitFor(t, 15*time.Second, "migration completed", func() bool {
		m, _ = leader.agent.FSM().Migration(migID)
		return m.State.Final()
	})
	if m.State != fsm.MigrationCompleted || m.Result == nil || !m.TargetReady || m.StartedAt.IsZero() {
		t.Fatalf("migration ended as %+v", m)
	}
	waitFor(t, 10*time.Second, "vm reported running on the destination", func() bool {
		vm, _ = leader.agent.FSM().VM(id)
		return vm.Node == dst.cfg.Cluster.NodeID && vm.State == fsm.VMRunning && vm.Generation == m.FromGeneration+1
	})
	if d, err := dst.driver.Inspect(ctx, id); err != nil || d.State != hypervisor.StateRunning || d.Generation != vm.Generation {
		t.Fatalf("destination domain: %+v %v", d, err)
	}
	if _, err := src.driver.Inspect(ctx, id); err == nil {
		t.Fatalf("the guest is still defined on the source")
	}
	if vm.Crashes != 0 {
		t.Fatalf("a migration was counted as a crash: %+v", vm)
	}
	c.waitConverged()
}

func TestCluster_DrainEmptiesTheNodeAndUndrainTakesVMsAgain(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	ctx := context.Background()
	var vmIDs []string
	for i := range 6 {
		id, _ := createVM(t, leader, fmt.Sprintf("vm-%d", i))
		vmIDs = append(vmIDs, id)
	}
	for _, id := range vmIDs {
		waitRunning(t, leader, id)
	}
	// Stop one, so the drain moves it cold.
	if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.VMAction{ID: vmIDs[0], Action: fsm.ActionStop, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "vm stopped", func() bool {
		vm, _ := leader.agent.FSM().VM(vmIDs[0])
		return vm.State == fsm.VMStopped
	})
	first, _ := leader.agent.FSM().VM(vmIDs[0])
	target := c.nodeByID(first.Node)
	if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.SetMaintenance{ID: target.cfg.Cluster.NodeID, Maintenance: true, Reason: "test", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "node drained", func() bool {
		if len(leader.agent.FSM().VMsOnNode(target.cfg.Cluster.NodeID)) > 0 {
			return false
		}
		doms, err := target.driver.List(ctx)
		return err == nil && len(doms) == 0
	})
	for _, id := range vmIDs[1:] {
		waitRunning(t, leader, id)
	}
	if vm, _ := leader.agent.FSM().VM(vmIDs[0]); vm.DesiredState != fsm.VMStopped {
		t.Fatalf("the stopped vm came back %s after its cold move", vm.DesiredState)
	}
	// Nothing new lands on the node while it is in maintenance.
	id, _ := createVM(t, leader, "newcomer")
	if vm := waitRunning(t, leader, id); vm.Node == target.cfg.Cluster.NodeID {
		t.Fatalf("a new vm was placed on a node in maintenance")
	}
	if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.SetMaintenance{ID: target.cfg.Cluster.NodeID, Maintenance: false, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := leader.agent.FSM().Fits(target.cfg.Cluster.NodeID, fsm.VMSpec{Name: "x", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1}); err != nil {
		t.Fatalf("undrained node refuses vms: %v", err)
	}
}

func TestCluster_AutomaticRebalancingSpreadsThenStaysStill(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	ctx := context.Background()
	set := func(s fsm.Settings) {
		t.Helper()
		if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.SetSettings{Settings: s, At: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	// binpack puts every guest on one node.
	set(fsm.Settings{Strategy: fsm.StrategyBinpack, Rebalance: fsm.RebalanceSettings{Mode: fsm.RebalanceOff}})
	var vmIDs []string
	for i := range 6 {
		id, _ := createVM(t, leader, fmt.Sprintf("busy-%d", i))
		vmIDs = append(vmIDs, id)
	}
	nodes := map[string]bool{}
	for _, id := range vmIDs {
		nodes[waitRunning(t, leader, id).Node] = true
	}
	if len(nodes) != 1 {
		t.Fatalf("binpack spread the guests over %d nodes", len(nodes))
	}
	set(fsm.Settings{Strategy: fsm.StrategySpread, Rebalance: fsm.RebalanceSettings{
		Mode: fsm.RebalanceAutomatic, Threshold: 0.05, MinGain: 0.01, MaxMoves: 2, IntervalSeconds: 1, CooldownSeconds: 3600}})
	perNode := func() map[string]int {
		out := map[string]int{}
		for _, vm := range leader.agent.FSM().VMs() {
			out[vm.Node]++
		}
		return out
	}
	waitFor(t, 30*time.Second, "guests spread over the three nodes", func() bool {
		counts := perNode()
		return len(counts) == 3 && len(leader.agent.FSM().ActiveMigrations()) == 0
	})
	moves := 0
	for _, m := range leader.agent.FSM().Migrations() {
		if m.Rebalance == nil || m.State != fsm.MigrationCompleted || m.Rebalance.ImbalanceAfter >= m.Rebalance.ImbalanceBefore {
			t.Fatalf("rebalancing migration without its reason or a gain: %+v", m)
		}
		moves++
	}
	// Further rounds leave the cluster alone.
	settled := time.Now().UTC()
	waitFor(t, 15*time.Second, "three more rebalancing rounds", func() bool {
		return leader.rebalanceStatus(t).LastRound.After(settled.Add(3 * time.Second))
	})
	if got := len(leader.agent.FSM().Migrations()); got != moves {
		t.Fatalf("rebalancing kept moving guests: %d migrations after settling, %d before", got, moves)
	}
	st, err := c.followers()[0].node.Control.Rebalance(ctx)
	if err != nil || st.Mode != fsm.RebalanceAutomatic || st.LastRound.IsZero() || st.Plan.Imbalance > 0.05 {
		t.Fatalf("rebalance status through a follower: %+v %v", st, err)
	}
}

func TestCluster_SimFleetHostsRegisterAndRunVMs(t *testing.T) {
	c := &testCluster{t: t, net: newTestNetwork()}
	cfg := TestConfig()
	cfg.Cluster.NodeName, cfg.Cluster.BootstrapExpect, cfg.Cluster.Voters = "fleet-owner", 1, 1
	cfg.Fleet.Size = 50
	cfg.Fleet.Driver = func(name string) hypervisor.Driver { return newSimDriver(name) }
	owner := c.add(cfg)
	t.Cleanup(c.shutdown)
	c.waitLeader()
	waitFor(t, 20*time.Second, "fleet registered", func() bool {
		alive := 0
		for _, n := range owner.agent.FSM().Nodes() {
			if n.Fleet == owner.cfg.Cluster.NodeID && n.Status == fsm.NodeAlive {
				alive++
			}
		}
		return alive == 50
	})
	ctx := context.Background()
	var cmds []fsm.Command
	for i := range 200 {
		cmds = append(cmds, &fsm.CreateVM{ID: ids.New(), Spec: fsm.VMSpec{Name: fmt.Sprintf("f-%03d", i), VCPUs: 1, MemoryMiB: 256, DiskGiB: 1}, At: time.Now().UTC()})
	}
	b, _ := fsm.NewBatch(cmds...)
	if _, err := owner.agent.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "200 vms running on fleet hosts", func() bool {
		running := 0
		for _, vm := range owner.agent.FSM().VMs() {
			if vm.State == fsm.VMRunning {
				running++
			}
		}
		return running == 200
	})
	hosts := map[string]bool{}
	for _, vm := range owner.agent.FSM().VMs() {
		hosts[vm.Node] = true
	}
	if len(hosts) < 40 {
		t.Fatalf("spread placed 200 vms on only %d of 51 hosts", len(hosts))
	}
}

// slowMigration starts a live migration of a VM that runs on one follower to the
// other follower, capped at 32 MiB/s so the 128 MiB guest takes about 4 s, and
// waits until it is copying.
func slowMigration(t *testing.T, c *testCluster) (migID, vmID string, src, dst *testNode) {
	t.Helper()
	leader := c.waitLeader()
	var ids3 []string
	for i := range 3 {
		id, _ := createVM(t, leader, fmt.Sprintf("slow-%d", i))
		ids3 = append(ids3, id)
	}
	followers := c.followers()
	for _, id := range ids3 {
		if vm := waitRunning(t, leader, id); vm.Node == followers[0].cfg.Cluster.NodeID {
			vmID = id
		}
	}
	if vmID == "" {
		t.Fatalf("spread placed no vm on %s", followers[0].cfg.Cluster.NodeName)
	}
	src, dst = followers[0], followers[1]
	migID = ids.New()
	if _, err := leader.agent.Apply(asRoot(context.Background(), t, leader.agent), &fsm.CreateMigration{ID: migID, VMID: vmID, Mode: fsm.MigrateLive, Target: dst.cfg.Cluster.NodeID,
		Options: fsm.MigrationOptions{BandwidthMiBps: 32}, Reason: "user", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "migration copying", func() bool {
		m, _ := leader.agent.FSM().Migration(migID)
		return m.State == fsm.MigrationRunning && m.Progress != nil
	})
	return migID, vmID, src, dst
}

func TestCluster_MigrationSurvivesALeaderChange(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	migID, vmID, _, dst := slowMigration(t, c)
	c.stop(c.waitLeader())
	survivor := c.waitLeader()
	var m fsm.Migration
	waitFor(t, 20*time.Second, "migration completed under the new leader", func() bool {
		m, _ = survivor.agent.FSM().Migration(migID)
		return m.State.Final()
	})
	if m.State != fsm.MigrationCompleted {
		t.Fatalf("migration ended %s: %s", m.State, m.Error)
	}
	waitFor(t, 10*time.Second, "vm running on the destination", func() bool {
		vm, _ := survivor.agent.FSM().VM(vmID)
		return vm.Node == dst.cfg.Cluster.NodeID && vm.State == fsm.VMRunning
	})
}

func TestCluster_SourceRestartMidMigrationSettlesFromTheHypervisors(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	migID, vmID, src, dst := slowMigration(t, c)
	before, _ := c.waitLeader().agent.FSM().VM(vmID)
	c.stop(src) // its copy is aborted with it; the guest stays on the source
	c.start(src)
	leader := c.waitLeader()
	var m fsm.Migration
	waitFor(t, 20*time.Second, "migration settled", func() bool {
		m, _ = leader.agent.FSM().Migration(migID)
		return m.State.Final()
	})
	if m.State != fsm.MigrationFailed || m.Error == "" {
		t.Fatalf("migration ended %s (%q), want failed with the reason", m.State, m.Error)
	}
	vm, _ := leader.agent.FSM().VM(vmID)
	if vm.Node != src.cfg.Cluster.NodeID || vm.Generation != before.Generation || vm.Migration != "" {
		t.Fatalf("vm after the failed migration: %+v", vm)
	}
	ctx := context.Background()
	if d, err := src.driver.Inspect(ctx, vmID); err != nil || d.State != hypervisor.StateRunning {
		t.Fatalf("guest on the source: %+v %v", d, err)
	}
	if _, err := dst.driver.Inspect(ctx, vmID); err == nil {
		t.Fatalf("the destination holds a copy of the guest")
	}
}

func TestCluster_MigrationsRespectTheConcurrencyBounds(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	leader := c.waitLeader()
	ctx := context.Background()
	if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.SetSettings{Settings: fsm.Settings{MaxMigrationsPerHost: 1, MaxMigrationsPerCluster: 1}, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	var vmIDs []string
	for i := range 6 {
		id, _ := createVM(t, leader, fmt.Sprintf("q-%d", i))
		vmIDs = append(vmIDs, id)
	}
	var migIDs []string
	for _, id := range vmIDs {
		vm := waitRunning(t, leader, id)
		for _, n := range c.nodes {
			if n.cfg.Cluster.NodeID != vm.Node {
				mid := ids.New()
				migIDs = append(migIDs, mid)
				if _, err := leader.agent.Apply(asRoot(ctx, t, leader.agent), &fsm.CreateMigration{ID: mid, VMID: id, Mode: fsm.MigrateLive, Target: n.cfg.Cluster.NodeID,
					Options: fsm.MigrationOptions{BandwidthMiBps: 256}, Reason: "user", At: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	most := 0
	waitFor(t, 30*time.Second, "every migration completed", func() bool {
		started, done := 0, 0
		for _, id := range migIDs {
			m, _ := leader.agent.FSM().Migration(id)
			switch {
			case m.State == fsm.MigrationCompleted:
				done++
			case m.State == fsm.MigrationPreparing || m.State == fsm.MigrationRunning:
				started++
			}
		}
		most = max(most, started)
		return done == len(migIDs)
	})
	if most != 1 {
		t.Fatalf("at most %d migrations ran at once, want exactly 1 under a cluster bound of 1", most)
	}
}
