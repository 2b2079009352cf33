package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Failover places, on c, the VMs of the dead node nodeID that the leader
// restarts elsewhere (fsm.VM.FailsOver), as a failover does: every VM of the
// node is released first (its reservations and group memberships die with
// it), then those VMs are placed one at a time in failover order, each seeing
// the ones before it. It returns one move per VM, in that order; a move
// without a Node fit nowhere. c changes: the leader builds a snapshot for it.
// An unknown node is an error wrapping fsm.ErrNotFound.
func (c *Cluster) Failover(nodeID string, at time.Time) ([]fsm.PlannedMove, error) {
	return c.failover(nodeID, at, (*fsm.VM).FailsOver)
}

// FailoverPlan answers "if node nodeID died now, where would each of its VMs
// go, and which would fit nowhere". It places the VMs a failover would move
// exactly as Failover does, then (on what room is left) the others, which a
// failover leaves alone: stopped ones, those without HA, migrating ones. A
// VM whose disks die with the node (a dir pool) goes nowhere, and the plan
// says why. It works on a copy of the snapshot, so c is unchanged.
func (c *Cluster) FailoverPlan(nodeID string, at time.Time) (fsm.FailoverPlan, error) {
	var stay []fsm.PlannedMove
	if j, ok := c.byID[nodeID]; ok {
		for i := range c.vms {
			if vm := c.vms[i].vm; c.vms[i].node == j && vm.LocalDisks {
				stay = append(stay, fsm.PlannedMove{VMID: vm.ID, VMName: vm.Spec.Name, Decision: fsm.Decision{Reason: vm.NoFailoverReason(), At: at}})
			}
		}
	}
	moves, err := c.clone().failover(nodeID, at, func(vm *fsm.VM) bool { return !vm.LocalDisks })
	if err != nil {
		return fsm.FailoverPlan{}, err
	}
	plan := fsm.FailoverPlan{NodeID: nodeID, NodeName: c.info[c.byID[nodeID]].name, Moves: []fsm.PlannedMove{}, NotFit: stay}
	if plan.NotFit == nil {
		plan.NotFit = []fsm.PlannedMove{}
	}
	for _, m := range moves {
		if m.Node == "" {
			plan.NotFit = append(plan.NotFit, m)
		} else {
			plan.Moves = append(plan.Moves, m)
		}
	}
	return plan, nil
}

// failover releases every VM of nodeID and places, in failover order, those
// that pick selects.
func (c *Cluster) failover(nodeID string, at time.Time, pick func(*fsm.VM) bool) ([]fsm.PlannedMove, error) {
	j, ok := c.byID[nodeID]
	if !ok || nodeID == "" {
		return nil, fmt.Errorf("node %q: %w", nodeID, fsm.ErrNotFound)
	}
	var victims []*fsm.VM
	for i := range c.vms {
		if c.vms[i].node == j {
			victims = append(victims, c.vms[i].vm)
		}
	}
	for _, vm := range victims {
		c.unassign(vm)
	}
	victims = slices.DeleteFunc(victims, func(vm *fsm.VM) bool { return !pick(vm) })
	slices.SortFunc(victims, failoverOrder)
	opts := Options{Exclude: map[string]bool{nodeID: true}, At: at}
	moves := make([]fsm.PlannedMove, 0, len(victims))
	for _, vm := range victims {
		d := c.Place(vm, opts)
		moves = append(moves, fsm.PlannedMove{VMID: vm.ID, VMName: vm.Spec.Name, Node: d.Node, NodeName: d.NodeName, Decision: d})
		if d.OK() {
			c.Assign(vm, d.Node)
		}
	}
	return moves, nil
}

// failoverOrder puts the VMs a failover restarts first, the highest HA
// priority first; then the others, those that should run first; within each,
// the larger ones (by memory, then vCPUs), then by name and ID: big VMs are
// the hardest to fit, so they choose before small ones fill the gaps.
func failoverOrder(a, b *fsm.VM) int {
	if c := compareTrueFirst(a.FailsOver(), b.FailsOver()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Spec.HAPriority(), a.Spec.HAPriority()); c != 0 {
		return c
	}
	if c := compareTrueFirst(a.DesiredState == fsm.VMRunning, b.DesiredState == fsm.VMRunning); c != 0 {
		return c
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

func compareTrueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}
