package control

import (
	"sync"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// Placement at creation: the leader decides where a new VM goes before its
// CreateVM is proposed, so a create that fits costs one Raft entry, not a
// create and then a placement (issue 12). The consensus core's batcher calls
// PrepareWrites with every batch of writes it is about to propose.
//
// The decision uses a snapshot of the nodes and what each has promised, not
// of every VM, so it costs the same whatever the cluster holds. Batches are
// pipelined (the next is decided before the last is applied), so what the
// creates in flight take is kept aside and counted too. The FSM still checks
// the node has room when it applies the create; a create whose node filled up
// meanwhile is created pending, and the placement loop places it.
//
// A VM in a placement group (affinity, anti-affinity) is left to the
// placement loop, which counts every member of the group.

// inflight is what the creates proposed but not yet applied reserve, by node.
type inflight struct {
	mu       sync.Mutex
	reserved map[string]fsm.Capacity
}

func (f *inflight) add(node string, spec *fsm.VMSpec, sign int) {
	r := f.reserved[node]
	r.VCPUs += sign * spec.VCPUs
	r.MemoryMiB += int64(sign) * spec.MemoryMiB
	r.DiskGiB += int64(sign) * spec.DiskGiB
	if r == (fsm.Capacity{}) {
		delete(f.reserved, node)
		return
	}
	f.reserved[node] = r
}

// PrepareWrites places the new VMs among cmds (fsm.CreateVM without a
// placement group): it fills in the node and the decision, or, for one that
// fits nowhere, the reasons it waits. It returns what to call once the
// batch's entry is applied or has failed, or nil if it placed nothing.
func (c *Controller) PrepareWrites(cmds []fsm.Command) (done func()) {
	var creates []*fsm.CreateVM
	for _, cmd := range cmds {
		if cv, ok := cmd.(*fsm.CreateVM); ok {
			cv.Node, cv.Reason, cv.Decision = "", "", nil
			if !inGroups(&cv.Spec) {
				creates = append(creates, cv)
			}
		}
	}
	if len(creates) == 0 {
		return nil
	}
	nodes, reserved, settings := c.state.NodeReservations()
	f := &c.inflight
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, r := range f.reserved {
		sum := reserved[id]
		sum.VCPUs, sum.MemoryMiB, sum.DiskGiB = sum.VCPUs+r.VCPUs, sum.MemoryMiB+r.MemoryMiB, sum.DiskGiB+r.DiskGiB
		reserved[id] = sum
	}
	sc := scheduler.NewCluster(nodes, nil, reserved, settings)
	var placed []*fsm.CreateVM
	for _, cv := range creates {
		vm := fsm.VM{ID: cv.ID, Spec: cv.Spec, CreatedAt: cv.At}
		d := sc.Place(&vm, scheduler.Options{At: cv.At})
		cv.Reason, cv.Decision = d.Reason, &d
		if d.OK() {
			sc.Assign(&vm, d.Node)
			cv.Node = d.Node
			f.add(d.Node, &cv.Spec, 1)
			placed = append(placed, cv)
		}
	}
	if len(placed) == 0 {
		return nil
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, cv := range placed {
			f.add(cv.Node, &cv.Spec, -1)
		}
	}
}

// inGroups reports whether a VM spec names a placement group.
func inGroups(spec *fsm.VMSpec) bool {
	return spec.Placement != nil && len(spec.Placement.Groups) > 0
}
