package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"fmt"
	"time"
)

// StartFailover records a host failure and moves the host's HA VMs in one
// step: each VM in Moves with a Node is placed there at the next generation
// (so the dead host, should it come back, refuses its stale order); one without
// a Node fit nowhere and becomes pending at the next generation, for the
// placement loop to place when room frees up. Only the leader proposes it, after
// the fencing timeout has surely passed.
type StartFailover struct {
	Failover Failover `json:"failover"`
	// FromGenerations holds each moved VM's generation on the failed node.
	FromGenerations map[string]uint64    `json:"from_generations,omitempty"`
	Decisions       map[string]*Decision `json:"decisions,omitempty"`
}

// UpdateFailover records VMs running again and, with Completed, the end.
type UpdateFailover struct {
	ID        string               `json:"id"`
	RunningAt map[string]time.Time `json:"running_at,omitempty"`
	Completed bool                 `json:"completed,omitempty"`
	At        time.Time            `json:"at"`
}

func (StartFailover) Type() CommandType  { return CmdStartFailover }
func (UpdateFailover) Type() CommandType { return CmdUpdateFailover }

func (c StartFailover) target() (string, string)  { return "failover", c.Failover.ID }
func (c UpdateFailover) target() (string, string) { return "failover", c.ID }

func init() {
	register(CmdStartFailover, "StartFailover", applyStartFailover)
	register(CmdUpdateFailover, "UpdateFailover", applyUpdateFailover)
}

func applyStartFailover(s *state, c *StartFailover, index uint64) error {
	f := c.Failover
	if f.ID == "" {
		return errorf(ErrInvalid, "failover id is required")
	}
	if _, dup := s.failovers[f.ID]; dup {
		return errorf(ErrConflict, "failover %s already exists", f.ID)
	}
	n, ok := s.nodes[f.Node]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", f.Node)
	}
	if n.Status == NodeAlive {
		return errorf(ErrState, "node %q is alive; only a failed node's vms fail over", n.Name)
	}
	// Check every move before changing anything: all or nothing.
	seen := make(map[string]bool, len(f.VMs))
	for _, m := range f.VMs {
		if seen[m.VMID] {
			return errorf(ErrInvalid, "vm %q is listed twice in failover %s", m.VMID, f.ID)
		}
		seen[m.VMID] = true
		vm, ok := s.vms[m.VMID]
		if !ok {
			return errorf(ErrNotFound, "vm %q not found", m.VMID)
		}
		if vm.Node != f.Node || vm.Generation != c.FromGenerations[m.VMID] {
			return errorf(ErrStaleGeneration, "vm %q is no longer on node %q at generation %d", vm.Spec.Name, n.Name, c.FromGenerations[m.VMID])
		}
		if vm.Migration != "" {
			return errorf(ErrConflict, "vm %q is migrating", vm.Spec.Name)
		}
	}
	moved := make([]FailoverVM, 0, len(f.VMs))
	for _, m := range f.VMs {
		vm := s.vms[m.VMID]
		s.release(vm)
		if m.Node != "" {
			if err := s.fits(m.Node, vm.Spec); err != nil {
				m.Node, m.Reason = "", err.Error()
			}
		}
		if m.Node == "" {
			// Fits nowhere now: pending at the next generation, so the dead host
			// cannot run it and the placement loop retries.
			s.move(vm, "")
			s.shareStrings(c.Decisions[m.VMID])
			s.setVMState(vm, VMPending)
			vm.Placement, vm.Decision = "failover: "+m.Reason, c.Decisions[m.VMID]
		} else {
			s.assign(vm, m.Node, fmt.Sprintf("failover from %s", n.Name), c.Decisions[m.VMID])
			m.NodeName = s.nodeName(m.Node)
		}
		m.VMName, m.Generation = vm.Spec.Name, vm.Generation
		vm.UpdatedAt, vm.Index = f.RestartedAt, index
		moved = append(moved, m)
	}
	// The VMs left behind, as the state names them now; bounded.
	left := make([]FailoverVM, 0, min(len(f.LeftBehind), MaxLeftBehind))
	for _, m := range f.LeftBehind {
		if vm, ok := s.vms[m.VMID]; ok && !seen[m.VMID] && len(left) < MaxLeftBehind {
			seen[m.VMID] = true
			left = append(left, FailoverVM{VMID: m.VMID, VMName: vm.Spec.Name, Reason: truncate(m.Reason, 256)})
		}
	}
	if len(left) == 0 {
		left = nil
	}
	f.VMs, f.LeftBehind, f.NodeName, f.Index = moved, left, n.Name, index
	f.CompletedAt = time.Time{}
	s.failovers[f.ID] = &f
	return nil
}

func applyUpdateFailover(s *state, c *UpdateFailover, index uint64) error {
	f, ok := s.failovers[c.ID]
	if !ok {
		return errorf(ErrNotFound, "failover %q not found", c.ID)
	}
	if !f.CompletedAt.IsZero() {
		return errorf(ErrState, "failover %s is complete", f.ID)
	}
	for i := range f.VMs {
		if at, ok := c.RunningAt[f.VMs[i].VMID]; ok && f.VMs[i].RunningAt.IsZero() {
			f.VMs[i].RunningAt = at
		}
	}
	if c.Completed {
		f.CompletedAt = c.At
	}
	f.Index = index
	return nil
}
