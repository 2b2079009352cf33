package scheduler

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// benchFleet makes hosts realistic nodes (64 vCPUs, 256 GiB, 4 TB of disk,
// zone/rack/tier/arch labels, two networks; half the nodes are tier=ssd) with
// about 10 VMs of 2 to 8 vCPUs and 4 to 32 GiB on each.
func benchFleet(hosts int) ([]fsm.Node, []fsm.VM) {
	rng := rand.New(rand.NewSource(1))
	nodes := make([]fsm.Node, hosts)
	var vms []fsm.VM
	for i := range nodes {
		tier := "hdd"
		if i%2 == 0 {
			tier = "ssd"
		}
		nodes[i] = fsm.Node{
			ID: fmt.Sprintf("node-id-%05d", i), Name: fmt.Sprintf("host-%05d", i), Status: fsm.NodeAlive,
			Capacity: fsm.Capacity{VCPUs: 64, MemoryMiB: 256 << 10, DiskGiB: 4000},
			Labels:   map[string]string{"zone": fmt.Sprintf("z%d", i%4), "rack": fmt.Sprintf("r%d", i/40), "tier": tier, "arch": "x86_64"},
			Networks: []string{"default", "prod"},
		}
		for v := 0; v < 8+rng.Intn(5); v++ {
			spec := fsm.VMSpec{Name: fmt.Sprintf("vm-%05d-%02d", i, v), VCPUs: 2 + rng.Intn(7), MemoryMiB: int64(4096 * (1 + rng.Intn(8))), DiskGiB: 40}
			if v == 0 {
				// One member of a spread-out group per node, for the group paths.
				spec.Placement = &fsm.PlacementSpec{Groups: []fsm.GroupRule{{Group: "web", Kind: fsm.GroupAntiAffinity}}}
			}
			vms = append(vms, fsm.VM{ID: fmt.Sprintf("vm-id-%05d-%02d", i, v), Spec: spec, Node: nodes[i].ID,
				DesiredState: fsm.VMRunning, State: fsm.VMRunning})
		}
	}
	return nodes, vms
}

var benchHosts = []int{100, 1000, 2000, 5000, 10000}

// BenchmarkPlace measures one placement decision (filters, scores, the
// explanation) over fleets of every size: a typical VM with a node selector
// that half the nodes match and a NIC on a network, under each strategy, and
// one with a soft anti-affinity group that has a member on every node.
func BenchmarkPlace(b *testing.B) {
	for _, hosts := range benchHosts {
		nodes, vms := benchFleet(hosts)
		for _, tc := range []struct {
			name     string
			strategy string
			groups   []fsm.GroupRule
		}{
			{name: "spread", strategy: fsm.StrategySpread},
			{name: "binpack", strategy: fsm.StrategyBinpack},
			{name: "spread+group", strategy: fsm.StrategySpread, groups: []fsm.GroupRule{{Group: "web", Kind: fsm.GroupAntiAffinity}}},
		} {
			c := NewCluster(nodes, vms, nil, fsm.Settings{Strategy: tc.strategy})
			vm := &fsm.VM{ID: "new", Spec: fsm.VMSpec{Name: "new", VCPUs: 4, MemoryMiB: 16384, DiskGiB: 80,
				NICs:      []fsm.NIC{{Network: "prod"}},
				Placement: &fsm.PlacementSpec{NodeSelector: map[string]string{"tier": "ssd"}, Groups: tc.groups}}}
			b.Run(fmt.Sprintf("hosts=%d/%s", hosts, tc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if d := c.Place(vm, Options{}); !d.OK() {
						b.Fatal(d.Reason)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			})
		}
	}
}

// BenchmarkPlanRebalance measures a rebalancing round of up to 10 moves where
// half the nodes run hot.
func BenchmarkPlanRebalance(b *testing.B) {
	for _, hosts := range []int{100, 1000} {
		nodes, vms := benchFleet(hosts)
		rng := rand.New(rand.NewSource(2))
		loads := map[string]fsm.NodeLoad{}
		for _, vm := range vms {
			l, ok := loads[vm.Node]
			if !ok {
				l = fsm.NodeLoad{VMs: map[string]fsm.VMLoad{}}
				loads[vm.Node] = l
			}
			cores := rng.Float64() * float64(vm.Spec.VCPUs) / 4
			if vm.Node[len(vm.Node)-1]%2 == 0 {
				cores = float64(vm.Spec.VCPUs) * 1.5
			}
			l.VMs[vm.ID] = fsm.VMLoad{CPUCores: cores, MemoryMiB: vm.Spec.MemoryMiB}
		}
		c := NewCluster(nodes, vms, nil, fsm.Settings{})
		rs := fsm.RebalanceSettings{Threshold: 0.05, MinGain: 0.0001, MaxMoves: 10}
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := c.PlanRebalance(loads, rs, t0); len(p.Moves) == 0 {
					b.Fatal(p.Reason)
				}
			}
		})
	}
}

// BenchmarkNewCluster measures the per-round cost of the snapshot from nodes
// and VMs already read out of the FSM.
func BenchmarkNewCluster(b *testing.B) {
	for _, hosts := range []int{1000, 10000} {
		nodes, vms := benchFleet(hosts)
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NewCluster(nodes, vms, nil, fsm.Settings{})
			}
		})
	}
}

// BenchmarkFromState measures the whole per-round cost as the leader pays it:
// reading nodes and VMs out of a real FSM (copies) and building the snapshot.
func BenchmarkFromState(b *testing.B) {
	for _, hosts := range []int{1000, 10000} {
		nodes, vms := benchFleet(hosts)
		f := fsm.New()
		index := uint64(0)
		apply := func(cmd fsm.Command) {
			index++
			if err := f.ApplyCommand(cmd, index); err != nil {
				b.Fatal(err)
			}
		}
		for _, n := range nodes {
			apply(fsm.RegisterNode{Node: n, At: t0})
		}
		for _, vm := range vms {
			apply(fsm.CreateVM{ID: vm.ID, Spec: vm.Spec, Node: vm.Node, At: t0})
		}
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				FromState(f)
			}
		})
	}
}
