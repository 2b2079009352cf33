package scheduler

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// rebalancer keeps the per-VM loads beside a harness and applies plans the
// way the leader would: each move changes the VM's node, its MovedAt and where
// its load is reported.
type rebalancer struct {
	*harness
	loads map[string]fsm.NodeLoad
}

func newRebalancer(t *testing.T) *rebalancer {
	return &rebalancer{harness: newHarness(t), loads: map[string]fsm.NodeLoad{}}
}

// node adds a node like harness.node, returning the rebalancer.
func (r *rebalancer) node(name string, vcpus int, memMiB int64, opts ...nodeOpt) *rebalancer {
	r.harness.node(name, vcpus, memMiB, opts...)
	return r
}

// running adds a running VM on node with a measured load.
func (r *rebalancer) running(name, node string, vcpus int, mem int64, cores float64, opts ...vmOpt) *fsm.VM {
	vm := r.vm(name, node, vcpus, mem, opts...)
	r.report(vm, cores, mem)
	return vm
}

func (r *rebalancer) report(vm *fsm.VM, cores float64, mem int64) {
	l, ok := r.loads[vm.Node]
	if !ok {
		l = fsm.NodeLoad{VMs: map[string]fsm.VMLoad{}, At: t0}
		r.loads[vm.Node] = l
	}
	l.VMs[vm.ID] = fsm.VMLoad{CPUCores: cores, MemoryMiB: mem}
}

// apply carries out plan at now.
func (r *rebalancer) apply(plan fsm.RebalancePlan, now time.Time) {
	for _, m := range plan.Moves {
		for _, vm := range r.vms {
			if vm.ID != m.VMID {
				continue
			}
			if vm.Node != m.From {
				r.t.Fatalf("move %+v: vm is on %s", m, vm.Node)
			}
			l, had := r.loads[m.From].VMs[vm.ID]
			delete(r.loads[m.From].VMs, vm.ID)
			vm.Node, vm.MovedAt = m.To, now
			if had {
				r.report(vm, l.CPUCores, l.MemoryMiB)
			}
		}
	}
	r.c = nil
}

// spread returns how many VMs each node holds, by node name.
func (r *rebalancer) spread() map[string]int {
	out := map[string]int{}
	for _, vm := range r.vms {
		out[strings.TrimPrefix(vm.Node, "id-")]++
	}
	return out
}

func TestPlanRebalance_SpreadsOneNodeAndSettles(t *testing.T) {
	for _, rs := range []fsm.RebalanceSettings{
		{}, // defaults: threshold 0.1, two moves a round
		{Threshold: 0.001, MinGain: 0.001, MaxMoves: 100}, // as even as it gets in one round
	} {
		t.Run(fmt.Sprintf("threshold=%v", rs.Threshold), func(t *testing.T) {
			r := newRebalancer(t)
			for _, n := range []string{"n1", "n2", "n3", "n4"} {
				r.node(n, 16, 16384)
			}
			for i := 0; i < 12; i++ {
				r.running(fmt.Sprintf("vm-%02d", i), "n1", 1, 1024, 1)
			}
			now := t0
			first := r.cluster().PlanRebalance(r.loads, rs, now)
			if first.Imbalance < 0.32 || first.Imbalance > 0.33 || len(first.Moves) == 0 || first.Nodes[0].NodeName != "n1" || first.Nodes[0].Load != 0.75 {
				t.Fatalf("first plan %+v", first)
			}
			m := first.Moves[0]
			if m.FromName != "n1" || m.Effect.ImbalanceBefore != first.Imbalance || m.Effect.SourceLoad != 0.75 || m.Effect.TargetLoad != 0 ||
				m.Effect.ImbalanceAfter >= m.Effect.ImbalanceBefore || !strings.HasPrefix(m.Reason, "rebalance: from n1 (load 0.75) to ") {
				t.Fatalf("first move %+v", m)
			}
			rounds := 0
			for plan := first; len(plan.Moves) > 0; plan = r.cluster().PlanRebalance(r.loads, rs, now) {
				if rounds++; rounds > 20 {
					t.Fatalf("no convergence after 20 rounds: %+v", plan)
				}
				for i := 1; i < len(plan.Moves); i++ {
					if plan.Moves[i].Effect.ImbalanceBefore != plan.Moves[i-1].Effect.ImbalanceAfter {
						t.Fatalf("moves do not chain: %+v", plan.Moves)
					}
				}
				r.apply(plan, now)
				now = now.Add(time.Hour) // past every cooldown
			}
			if n := r.spread(); n["n1"] > 6 || len(n) < 3 {
				t.Fatalf("not spread out: %v", n)
			}
			// Settled: further rounds stay still.
			for i := 0; i < 3; i++ {
				now = now.Add(time.Hour)
				if plan := r.cluster().PlanRebalance(r.loads, rs, now); len(plan.Moves) != 0 || plan.Reason == "" {
					t.Fatalf("round after settling proposes %+v", plan)
				}
			}
		})
	}
}

func TestPlanRebalance_NeverSwapsBetweenEqualNodes(t *testing.T) {
	r := newRebalancer(t).node("a", 16, 16384).node("b", 16, 16384)
	r.running("v1", "a", 1, 1024, 1)
	r.running("v2", "a", 1, 1024, 1)
	r.running("v3", "b", 1, 1024, 1)
	rs := fsm.RebalanceSettings{Threshold: 0.001, MinGain: 0.001, MaxMoves: 10}
	plan := r.cluster().PlanRebalance(r.loads, rs, t0)
	if len(plan.Moves) != 0 || !strings.Contains(plan.Reason, "no move lowers it by at least 0.001") {
		t.Fatalf("plan %+v", plan)
	}
}

func TestPlanRebalance_LeavesCoolingAndMigratingVMsAlone(t *testing.T) {
	r := newRebalancer(t).node("hot", 8, 8192).node("cold", 8, 8192)
	now := t0.Add(time.Hour)
	r.running("cooling", "hot", 2, 2048, 2, movedAt(now.Add(-time.Minute)))
	r.running("migrating", "hot", 2, 2048, 2, migrating("m-1"))
	r.running("stopping", "hot", 2, 2048, 0, desired(fsm.VMStopped))
	r.running("starting", "hot", 1, 1024, 0, observed(fsm.VMScheduled))
	rs := fsm.RebalanceSettings{Threshold: 0.01, MinGain: 0.001, MaxMoves: 10, CooldownSeconds: 600}
	plan := r.cluster().PlanRebalance(r.loads, rs, now)
	if len(plan.Moves) != 0 || !strings.Contains(plan.Reason, "no vm may move now") {
		t.Fatalf("plan %+v", plan)
	}
	// Once cooled down, the moved VM may go; the others still not.
	r.running("free", "hot", 2, 2048, 2, movedAt(now.Add(-11*time.Minute)))
	plan = r.cluster().PlanRebalance(r.loads, rs, now)
	var moved []string
	for _, m := range plan.Moves {
		moved = append(moved, m.VMName)
	}
	if !reflect.DeepEqual(moved, []string{"free"}) {
		t.Fatalf("moved %v, want only free: %+v", moved, plan)
	}
}

func TestPlanRebalance_RespectsThresholdAndMinGain(t *testing.T) {
	build := func() *rebalancer {
		r := newRebalancer(t).node("a", 10, 10240).node("b", 10, 10240)
		for i := 0; i < 4; i++ {
			r.running(fmt.Sprintf("v%d", i), "a", 1, 1024, 1) // a at 0.4, b at 0: imbalance 0.2
		}
		return r
	}
	cases := []struct {
		name   string
		rs     fsm.RebalanceSettings
		moves  int
		reason string
	}{
		{name: "below threshold", rs: fsm.RebalanceSettings{Threshold: 0.2}, reason: "imbalance 0.200 is within the threshold 0.200: no moves"},
		{name: "gain too small", rs: fsm.RebalanceSettings{Threshold: 0.05, MinGain: 0.15},
			reason: "imbalance 0.200 is above the threshold 0.050, but no move lowers it by at least 0.150 (the best lowers it by 0.100)"},
		{name: "stops once within threshold", rs: fsm.RebalanceSettings{Threshold: 0.15, MinGain: 0.05, MaxMoves: 10}, moves: 1,
			reason: "imbalance 0.200 is above the threshold 0.150: 1 move lowers it to 0.100"},
		{name: "max moves", rs: fsm.RebalanceSettings{Threshold: 0.01, MinGain: 0.01, MaxMoves: 1}, moves: 1,
			reason: "imbalance 0.200 is above the threshold 0.010: 1 move lowers it to 0.100 (at most 1 per round)"},
		{name: "balanced", rs: fsm.RebalanceSettings{Threshold: 0.01, MinGain: 0.01, MaxMoves: 5}, moves: 2,
			reason: "imbalance 0.200 is above the threshold 0.010: 2 moves lower it to 0.000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := build().cluster().PlanRebalance(nil, tc.rs, t0)
			if len(plan.Moves) != tc.moves || plan.Reason != tc.reason {
				t.Fatalf("plan %d moves, reason %q\nwant %d moves, reason %q", len(plan.Moves), plan.Reason, tc.moves, tc.reason)
			}
		})
	}
}

// TestPlanRebalance_MovesPassEveryHardFilter checks that no proposed move
// breaks a node selector, a hard anti-affinity group or a node's room, by
// asking Place about each target on the state before the move.
func TestPlanRebalance_MovesPassEveryHardFilter(t *testing.T) {
	r := newRebalancer(t).
		node("hot", 16, 16384, labels("zone", "a")).
		node("wrong-zone", 16, 16384, labels("zone", "b")).
		node("right-zone", 16, 16384, labels("zone", "a")).
		node("tiny", 16, 1024, labels("zone", "a")).
		node("down", 16, 16384, labels("zone", "a"), status(fsm.NodeFailed)).
		node("drained", 16, 16384, labels("zone", "a"), maintenance())
	for i := 0; i < 4; i++ {
		r.running(fmt.Sprintf("zonal-%d", i), "hot", 2, 2048, 2, selector("zone", "a"))
		r.running(fmt.Sprintf("ha-%d", i), "hot", 2, 2048, 2, group("ha", fsm.GroupAntiAffinity, true))
	}
	r.running("ha-x", "right-zone", 1, 512, 0, group("ha", fsm.GroupAntiAffinity, true), desired(fsm.VMStopped))
	rs := fsm.RebalanceSettings{Threshold: 0.01, MinGain: 0.001, MaxMoves: 20}
	now := t0
	total := 0
	for round := 0; round < 10; round++ {
		c := r.cluster()
		plan := c.PlanRebalance(r.loads, rs, now)
		for _, m := range plan.Moves {
			vm := r.byID(m.VMID)
			// Each move is checked on the state the plan had reached before it.
			d := c.Place(vm, Options{Exclude: map[string]bool{m.From: true}})
			for _, rej := range d.Rejected {
				if rej.NodeID == m.To {
					t.Fatalf("move %s to %s breaks %s: %s", m.VMName, m.ToName, rej.Kind, rej.Reason)
				}
			}
			c.Assign(vm, m.To)
			if strings.HasPrefix(m.VMName, "zonal") && m.ToName == "wrong-zone" {
				t.Fatalf("zonal vm moved to the wrong zone")
			}
			total++
		}
		if len(plan.Moves) == 0 {
			break
		}
		r.apply(plan, now)
		now = now.Add(time.Hour)
	}
	if total == 0 {
		t.Fatalf("no moves at all")
	}
	perNode := map[string]int{}
	for _, vm := range r.vms {
		if strings.HasPrefix(vm.Spec.Name, "ha-") {
			perNode[vm.Node]++
		}
	}
	if perNode["id-wrong-zone"] > 1 || perNode["id-right-zone"] > 1 || perNode["id-down"]+perNode["id-drained"]+perNode["id-tiny"] > 0 {
		t.Fatalf("ha members per node %v", perNode)
	}
}

func TestPlanRebalance_LeavesTheClusterUnchanged(t *testing.T) {
	r := newRebalancer(t).node("a", 8, 8192).node("b", 8, 8192)
	for i := 0; i < 4; i++ {
		r.running(fmt.Sprintf("v%d", i), "a", 1, 1024, 1)
	}
	c := r.cluster()
	probe := newVM("probe", 1, 1024)
	before := c.Place(probe, Options{})
	plan := c.PlanRebalance(r.loads, fsm.RebalanceSettings{Threshold: 0.01, MaxMoves: 5}, t0)
	if len(plan.Moves) == 0 {
		t.Fatalf("plan %+v", plan)
	}
	if after := c.Place(probe, Options{}); !reflect.DeepEqual(after, before) {
		t.Fatalf("PlanRebalance changed the snapshot:\nbefore %+v\nafter  %+v", before, after)
	}
}

func (r *rebalancer) byID(id string) *fsm.VM {
	for _, vm := range r.vms {
		if vm.ID == id {
			return vm
		}
	}
	r.t.Fatalf("vm %s not found", id)
	return nil
}
