package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/novacron/novacron/fsm"
)

// The rebalancer's search is bounded: each move is looked for among the VMs of
// the rebalanceSources most loaded nodes and the rebalanceTargets least loaded
// ones. The move that lowers the standard deviation of loads the most nearly
// always takes a VM off a hot node onto a cold one, so this loses little, and it
// keeps a round over 1,000 nodes of 10 VMs each to a few thousand checks per
// move instead of ten million.
const (
	rebalanceSources = 16
	rebalanceTargets = 64
)

// simNode is one node's load as the rebalancer simulates it.
type simNode struct {
	idx        int32
	capV, capM float64
	// cpu (cores) and mem (MiB) sum the loads of the VMs in vms.
	cpu, mem float64
	vms      []int32 // VM records
}

func (s *simNode) fractions() (cpu, mem float64) { return s.cpu / s.capV, s.mem / s.capM }

func (s *simNode) load() float64 { return loadOf(s.cpu, s.mem, s) }

// loadOf is the load node s would have with cpu cores and mem MiB in use.
func loadOf(cpu, mem float64, s *simNode) float64 { return max(cpu/s.capV, mem/s.capM) }

// PlanRebalance proposes up to rs.MaxMoves migrations that lower the cluster's
// imbalance, greedily like VMware DRS. A node's load is the larger of its cpu
// (the VMs' measured CPUCores over its effective vCPUs) and memory (their
// measured memory, or the spec's when a VM has no report, over its effective
// memory) fractions; the imbalance is the population standard deviation of the
// loads of the alive nodes not in maintenance. While the imbalance is above
// rs.Threshold, the move that lowers it the most is taken if it lowers it by
// at least rs.MinGain, and the search goes on from the state after it. A VM may
// move if it is running (desired and observed), not migrating, not moved
// within rs.Cooldown() of now, and not moved earlier in the round; its target
// must pass every hard filter of Place (with the VM's own reservation freed).
// Every move strictly lowers the imbalance, so rounds converge and never
// swap a VM back and forth between equal nodes. Zero fields of rs mean the
// defaults; the snapshot is left as it was. See rebalanceSources for the
// bounds of the search.
func (c *Cluster) PlanRebalance(loads map[string]fsm.NodeLoad, rs fsm.RebalanceSettings, now time.Time) fsm.RebalancePlan {
	rs = fsm.Settings{Rebalance: rs}.WithDefaults().Rebalance
	minGain := max(rs.MinGain, 1e-9)
	plan := fsm.RebalancePlan{Threshold: rs.Threshold, Nodes: []fsm.NodeScore{}, Moves: []fsm.Move{}}
	sims, vmCPU, vmMem := c.simulate(loads)
	cur := imbalance(sims)
	plan.Imbalance = cur
	for i := range sims {
		s := &sims[i]
		cpu, mem := s.fractions()
		info := &c.info[s.idx]
		plan.Nodes = append(plan.Nodes, fsm.NodeScore{NodeID: info.id, NodeName: info.name, CPU: cpu, Memory: mem, Load: max(cpu, mem), VMs: len(s.vms)})
	}
	slices.SortFunc(plan.Nodes, func(a, b fsm.NodeScore) int {
		if c := cmp.Compare(b.Load, a.Load); c != 0 {
			return c
		}
		return cmp.Compare(a.NodeName, b.NodeName)
	})
	switch {
	case len(sims) < 2:
		plan.Reason = "fewer than two nodes can take vms: nothing to balance"
		return plan
	case cur <= rs.Threshold:
		plan.Reason = fmt.Sprintf("imbalance %.3f is within the threshold %.3f: no moves", cur, rs.Threshold)
		return plan
	}

	type undo struct {
		vm   *fsm.VM
		from string
	}
	var undos []undo
	defer func() {
		for i := len(undos) - 1; i >= 0; i-- {
			c.Assign(undos[i].vm, undos[i].from)
		}
	}()
	moved := map[int32]bool{}
	movable := func(r int32) bool {
		vm := c.vms[r].vm
		return !moved[r] && vm.Migration == "" && len(vm.Snapshots) == 0 && vm.DesiredState == fsm.VMRunning && vm.State == fsm.VMRunning &&
			(vm.MovedAt.IsZero() || now.Sub(vm.MovedAt) >= rs.Cooldown())
	}
	order := make([]int, len(sims))
	for i := range order {
		order[i] = i
	}
	stop := ""
	for len(plan.Moves) < rs.MaxMoves && cur > rs.Threshold {
		slices.SortFunc(order, func(a, b int) int {
			if c := cmp.Compare(sims[b].load(), sims[a].load()); c != 0 {
				return c
			}
			return cmp.Compare(sims[a].idx, sims[b].idx)
		})
		var sources []int
		for _, si := range order {
			if len(sources) == rebalanceSources {
				break
			}
			if slices.ContainsFunc(sims[si].vms, movable) {
				sources = append(sources, si)
			}
		}
		if len(sources) == 0 {
			stop = "no vm may move now (each is migrating, cooling down after a move, or not running)"
			break
		}
		targets := slices.Clone(order[max(0, len(order)-rebalanceTargets):])
		slices.SortFunc(targets, func(a, b int) int { return cmp.Compare(sims[a].idx, sims[b].idx) })

		n := float64(len(sims))
		var sum, sumsq float64
		for i := range sims {
			l := sims[i].load()
			sum, sumsq = sum+l, sumsq+l*l
		}
		best := struct {
			r             int32
			src, dst      int
			after, ls, lt float64
			found         bool
		}{}
		base := stddev(sum, sumsq, n)
		best.after = math.Inf(1)
		for _, si := range sources {
			s := &sims[si]
			ls := s.load()
			for _, r := range s.vms {
				if !movable(r) {
					continue
				}
				req := c.prepare(c.vms[r].vm, nil, nil)
				newS := loadOf(s.cpu-vmCPU[r], s.mem-vmMem[r], s)
				for _, ti := range targets {
					t := &sims[ti]
					if ti == si || c.check(&req, t.idx) != fits {
						continue
					}
					lt := t.load()
					newT := loadOf(t.cpu+vmCPU[r], t.mem+vmMem[r], t)
					after := stddev(sum-ls-lt+newS+newT, sumsq-ls*ls-lt*lt+newS*newS+newT*newT, n)
					if after < best.after {
						best.r, best.src, best.dst, best.after, best.ls, best.lt, best.found = r, si, ti, after, ls, lt, true
					}
				}
			}
		}
		if !best.found {
			stop = "no vm of the most loaded nodes fits on a less loaded one"
			break
		}
		if gain := base - best.after; gain < minGain {
			stop = fmt.Sprintf("no move lowers it by at least %.3f (the best lowers it by %.3f)", rs.MinGain, gain)
			if gain <= 0 {
				stop = fmt.Sprintf("no move lowers it by at least %.3f (none lowers it at all)", rs.MinGain)
			}
			break
		}
		s, t, r := &sims[best.src], &sims[best.dst], best.r
		s.cpu, s.mem = s.cpu-vmCPU[r], s.mem-vmMem[r]
		t.cpu, t.mem = t.cpu+vmCPU[r], t.mem+vmMem[r]
		s.vms = slices.DeleteFunc(s.vms, func(x int32) bool { return x == r })
		t.vms = append(t.vms, r)
		vm, from, to := c.vms[r].vm, c.info[s.idx], c.info[t.idx]
		c.Assign(vm, to.id)
		undos = append(undos, undo{vm: vm, from: from.id})
		moved[r] = true
		after := imbalance(sims)
		plan.Moves = append(plan.Moves, fsm.Move{
			VMID: vm.ID, VMName: vm.Spec.Name, From: from.id, FromName: from.name, To: to.id, ToName: to.name,
			Effect: fsm.RebalanceMove{ImbalanceBefore: cur, ImbalanceAfter: after, SourceLoad: best.ls, TargetLoad: best.lt},
			Reason: fmt.Sprintf("rebalance: from %s (load %.2f) to %s (load %.2f) lowers the imbalance from %.3f to %.3f",
				from.name, best.ls, to.name, best.lt, cur, after),
		})
		cur = after
	}
	head := fmt.Sprintf("imbalance %.3f is above the threshold %.3f", plan.Imbalance, rs.Threshold)
	lower := plural(len(plan.Moves), "move") + " lower it"
	if len(plan.Moves) == 1 {
		lower = "1 move lowers it"
	}
	switch {
	case len(plan.Moves) == 0:
		plan.Reason = head + ", but " + stop
	case cur > rs.Threshold && stop == "":
		plan.Reason = fmt.Sprintf("%s: %s to %.3f (at most %d per round)", head, lower, cur, rs.MaxMoves)
	default:
		plan.Reason = fmt.Sprintf("%s: %s to %.3f", head, lower, cur)
	}
	return plan
}

// simulate builds the rebalancer's view: one simNode per alive node that is
// not in maintenance and has capacity, and each VM's cpu and memory load.
func (c *Cluster) simulate(loads map[string]fsm.NodeLoad) (sims []simNode, vmCPU, vmMem []float64) {
	pos := make([]int32, len(c.nodes))
	for i := range c.nodes {
		n := &c.nodes[i]
		pos[i] = -1
		if n.alive && !n.maintenance && n.capV > 0 && n.capM > 0 {
			pos[i] = int32(len(sims))
			sims = append(sims, simNode{idx: int32(i), capV: float64(n.capV), capM: float64(n.capM)})
		}
	}
	vmCPU, vmMem = make([]float64, len(c.vms)), make([]float64, len(c.vms))
	for r := range c.vms {
		rec := &c.vms[r]
		if rec.node < 0 || pos[rec.node] < 0 {
			continue
		}
		s := &sims[pos[rec.node]]
		vmMem[r] = float64(rec.m)
		if l, ok := loads[c.info[rec.node].id].VMs[rec.vm.ID]; ok {
			vmCPU[r] = max(l.CPUCores, 0)
			if l.MemoryMiB > 0 {
				vmMem[r] = float64(l.MemoryMiB)
			}
		}
		s.cpu += vmCPU[r]
		s.mem += vmMem[r]
		s.vms = append(s.vms, int32(r))
	}
	return sims, vmCPU, vmMem
}

// imbalance is the population standard deviation of the nodes' loads.
func imbalance(sims []simNode) float64 {
	if len(sims) == 0 {
		return 0
	}
	var sum float64
	for i := range sims {
		sum += sims[i].load()
	}
	mean := sum / float64(len(sims))
	var sq float64
	for i := range sims {
		d := sims[i].load() - mean
		sq += d * d
	}
	return math.Sqrt(sq / float64(len(sims)))
}

// stddev is the population standard deviation of n values from their sum and
// sum of squares.
func stddev(sum, sumsq, n float64) float64 {
	mean := sum / n
	return math.Sqrt(max(sumsq/n-mean*mean, 0))
}
