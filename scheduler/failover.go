package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/novacron/novacron/fsm"
)

// FailoverPlan answers "if node nodeID died now, where would each of its VMs
// go, and which would fit nowhere". It works on a copy of the snapshot, so c
// is unchanged: the node is excluded and its VMs' reservations and group
// memberships are released, then its VMs are placed one at a time, each seeing
// the ones before it: VMs that should run first, then the larger (by memory)
// first, then by name. An unknown node is an error wrapping fsm.ErrNotFound.
func (c *Cluster) FailoverPlan(nodeID string, at time.Time) (FailoverPlan, error) {
	j, ok := c.byID[nodeID]
	if !ok || nodeID == "" {
		return FailoverPlan{}, fmt.Errorf("node %q: %w", nodeID, fsm.ErrNotFound)
	}
	plan := FailoverPlan{NodeID: nodeID, NodeName: c.info[j].name, Moves: []PlannedMove{}, NotFit: []PlannedMove{}}
	cp := c.clone()
	var victims []*fsm.VM
	for i := range cp.vms {
		if cp.vms[i].node == j {
			victims = append(victims, cp.vms[i].vm)
		}
	}
	for _, vm := range victims {
		cp.Unassign(vm)
	}
	slices.SortFunc(victims, failoverOrder)
	opts := Options{Exclude: map[string]bool{nodeID: true}, At: at}
	for _, vm := range victims {
		d := cp.Place(vm, opts)
		pm := PlannedMove{VMID: vm.ID, VMName: vm.Spec.Name, Node: d.Node, NodeName: d.NodeName, Decision: d}
		if !d.OK() {
			plan.NotFit = append(plan.NotFit, pm)
			continue
		}
		cp.Assign(vm, d.Node)
		plan.Moves = append(plan.Moves, pm)
	}
	return plan, nil
}

// failoverOrder puts the VMs that should run first, then the larger ones (by
// memory, then vCPUs), then sorts by name and ID: big VMs are the hardest to
// fit, so they choose before small ones fill the gaps.
func failoverOrder(a, b *fsm.VM) int {
	ar, br := a.DesiredState == fsm.VMRunning, b.DesiredState == fsm.VMRunning
	if ar != br {
		if ar {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Spec.MemoryMiB, a.Spec.MemoryMiB); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Spec.VCPUs, a.Spec.VCPUs); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Spec.Name, b.Spec.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
