package scheduler

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// fsmCluster is an FSM filled through its own commands, so every check below
// compares the scheduler with what Apply would accept.
type fsmCluster struct {
	t     *testing.T
	f     *fsm.FSM
	index uint64
}

func (c *fsmCluster) apply(cmd fsm.Command) error {
	c.index++
	return c.f.ApplyCommand(cmd, c.index)
}

func (c *fsmCluster) must(cmd fsm.Command) {
	c.t.Helper()
	if err := c.apply(cmd); err != nil {
		c.t.Fatalf("apply %T %+v: %v", cmd, cmd, err)
	}
}

// randomSpec draws a VM spec over small pools of labels, networks, nodes and
// groups, so that every filter passes and fails often.
func randomSpec(rng *rand.Rand, name string, nodes int) fsm.VMSpec {
	s := fsm.VMSpec{Name: name, VCPUs: 1 + rng.Intn(6), MemoryMiB: int64(256 * (1 + rng.Intn(16))), DiskGiB: int64(1 + rng.Intn(60))}
	if rng.Intn(3) == 0 {
		s.NICs = []fsm.NIC{{Network: []string{"default", "lab", "dmz"}[rng.Intn(3)]}}
	}
	p := &fsm.PlacementSpec{}
	if rng.Intn(3) == 0 {
		p.NodeSelector = map[string]string{"zone": []string{"a", "b", "c"}[rng.Intn(3)]}
	}
	if rng.Intn(5) == 0 {
		p.Nodes = []string{fmt.Sprintf("node-%d", rng.Intn(nodes)), fmt.Sprintf("id-%d", rng.Intn(nodes))}
	}
	if rng.Intn(4) == 0 {
		p.PreferredNodes = []string{fmt.Sprintf("node-%d", rng.Intn(nodes))}
	}
	if rng.Intn(2) == 0 {
		kinds := []string{fsm.GroupAffinity, fsm.GroupAntiAffinity}
		p.Groups = []fsm.GroupRule{{Group: fmt.Sprintf("g%d", rng.Intn(3)), Kind: kinds[rng.Intn(2)], Hard: rng.Intn(2) == 0}}
	}
	if rng.Intn(4) == 0 {
		p.Strategy = fsm.StrategyBinpack
	}
	s.Placement = p
	return s
}

// hardOK is a plain re-statement of the constraints the FSM does not check
// (selector, node list, hard groups), from the FSM's own records.
func hardOK(f *fsm.FSM, n fsm.Node, spec fsm.VMSpec) bool {
	p := spec.Placement
	if p == nil {
		return true
	}
	for k, v := range p.NodeSelector {
		if n.Labels[k] != v {
			return false
		}
	}
	if len(p.Nodes) > 0 && !slices.Contains(p.Nodes, n.Name) && !slices.Contains(p.Nodes, n.ID) {
		return false
	}
	for _, g := range p.Groups {
		if !g.Hard {
			continue
		}
		counts := map[string]int{}
		for _, vm := range f.VMs() {
			if vm.Node != "" && vm.Spec.Placement != nil && slices.ContainsFunc(vm.Spec.Placement.Groups, func(o fsm.GroupRule) bool { return o.Group == g.Group }) {
				counts[vm.Node]++
			}
		}
		most := 0
		for _, c := range counts {
			most = max(most, c)
		}
		if g.Kind == fsm.GroupAntiAffinity && counts[n.ID] > 0 {
			return false
		}
		if g.Kind == fsm.GroupAffinity && most > 0 && counts[n.ID] < most {
			return false
		}
	}
	return true
}

// TestPlace_AgreesWithFSM fills random clusters through FSM commands (with
// overcommit, maintenance, failed nodes, disk sizes and migrations holding
// room) and checks for random specs that Place picks only nodes the FSM
// accepts and that meet every constraint, and that when it finds none, no node
// passes both the FSM's check and the constraints.
func TestPlace_AgreesWithFSM(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	zones := []string{"a", "b", "c"}
	placed, refused, replaced := 0, 0, 0
	for round := 0; round < 60; round++ {
		c := &fsmCluster{t: t, f: fsm.New()}
		if rng.Intn(2) == 0 {
			c.must(fsm.SetSettings{Settings: fsm.Settings{CPUOvercommit: 1 + float64(rng.Intn(3)), MemoryOvercommit: 1 + rng.Float64()}, At: t0})
		}
		nodes := 2 + rng.Intn(6)
		for i := 0; i < nodes; i++ {
			n := fsm.Node{ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("node-%d", i), Status: fsm.NodeAlive,
				Capacity: fsm.Capacity{VCPUs: 2 + rng.Intn(14), MemoryMiB: int64(1024 * (1 + rng.Intn(16))), DiskGiB: int64(rng.Intn(3) * 200)},
				Labels:   map[string]string{"zone": zones[rng.Intn(3)]}, Networks: []string{"default"}}
			if rng.Intn(2) == 0 {
				n.Networks = append(n.Networks, "lab")
			}
			if rng.Intn(4) == 0 {
				n.CPUOvercommit = float64(1 + rng.Intn(4))
			}
			c.must(fsm.RegisterNode{Node: n, At: t0})
		}
		// Place VMs through the scheduler, as the leader does.
		for v := 0; v < 25; v++ {
			id := fmt.Sprintf("vm-id-%d", v)
			spec := randomSpec(rng, fmt.Sprintf("vm-%d", v), nodes)
			c.must(fsm.CreateVM{ID: id, Spec: spec, At: t0})
			vm, _ := c.f.VM(id)
			if d := FromState(c.f).Place(&vm, Options{At: t0}); d.OK() {
				if err := c.apply(fsm.PlaceVM{ID: id, Node: d.Node, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: t0}); err != nil {
					t.Fatalf("round %d: the FSM refused the scheduler's choice %s: %v", round, d.Reason, err)
				}
			}
		}
		// Some cold migrations reserve room on their targets.
		for _, vm := range c.f.VMs() {
			if vm.Node != "" && rng.Intn(5) == 0 {
				_ = c.apply(fsm.CreateMigration{ID: "m-" + vm.ID, VMID: vm.ID, Mode: fsm.MigrateCold, Target: fmt.Sprintf("id-%d", rng.Intn(nodes)), At: t0})
			}
		}
		for i := 0; i < nodes; i++ {
			switch rng.Intn(6) {
			case 0:
				c.must(fsm.SetNodeStatus{ID: fmt.Sprintf("id-%d", i), Status: fsm.NodeFailed, At: t0})
			case 1:
				c.must(fsm.SetMaintenance{ID: fmt.Sprintf("id-%d", i), Maintenance: true, At: t0})
			}
		}
		cl := FromState(c.f)
		fsmNodes := c.f.Nodes()
		for probe := 0; probe < 40; probe++ {
			spec := randomSpec(rng, fmt.Sprintf("probe-%d", probe), nodes)
			d := cl.Place(&fsm.VM{ID: fmt.Sprintf("probe-id-%d", probe), Spec: spec}, Options{})
			feasible := 0
			for _, n := range fsmNodes {
				if c.f.Fits(n.ID, spec) == nil && hardOK(c.f, n, spec) {
					feasible++
				}
			}
			if d.Feasible != feasible {
				t.Fatalf("round %d probe %d: scheduler finds %d feasible nodes, FSM and constraints %d; spec %+v placement %+v; decision %+v",
					round, probe, d.Feasible, feasible, spec, *spec.Placement, d)
			}
			if !d.OK() {
				refused++
				continue
			}
			placed++
			if err := c.f.Fits(d.Node, spec); err != nil {
				t.Fatalf("round %d probe %d: FSM refuses %s: %v", round, probe, d.NodeName, err)
			}
			n, _ := c.f.Node(d.Node)
			if !hardOK(c.f, n, spec) {
				t.Fatalf("round %d probe %d: %s breaks a constraint: %+v", round, probe, d.NodeName, d)
			}
		}
		// Re-placing a placed VM: it must not count against itself, and the
		// FSM (which releases it first) must accept whatever Place picks.
		for _, vm := range c.f.VMs() {
			if vm.Node == "" || vm.Migration != "" || rng.Intn(2) == 0 {
				continue
			}
			d := FromState(c.f).Place(&vm, Options{At: t0})
			if !d.OK() {
				continue
			}
			if err := c.apply(fsm.PlaceVM{ID: vm.ID, Node: d.Node, FromGeneration: vm.Generation, Reason: d.Reason, At: t0}); err != nil {
				t.Fatalf("round %d: FSM refused re-placing %s on %s: %v", round, vm.Spec.Name, d.NodeName, err)
			}
			replaced++
		}
	}
	t.Logf("probes placed %d, refused %d; re-placed %d", placed, refused, replaced)
	if placed < 100 || refused < 100 || replaced < 50 {
		t.Fatalf("the random clusters are too easy or too hard: placed %d, refused %d, re-placed %d", placed, refused, replaced)
	}
}
