package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"fmt"
	"time"
)

// Fence actions: what a host that lost its lease does to an HA VM.
const (
	FenceDestroy = "destroy"
	FencePause   = "pause"
)

// HASpec is a VM's high-availability policy. VMs are HA-managed unless
// Disabled: when their host fails they are restarted elsewhere, highest
// Priority first, and a host that loses its lease fences them (FenceAction).
type HASpec struct {
	Disabled bool `json:"disabled,omitempty"`
	// Priority orders restarts after a host failure: higher first (0..1000).
	Priority int `json:"priority,omitempty"`
	// FenceAction is destroy (default) or pause.
	FenceAction string `json:"fence_action,omitempty"`
}

// HAEnabled reports whether the VM is HA-managed.
func (s VMSpec) HAEnabled() bool { return s.HA == nil || !s.HA.Disabled }

// FailsOver reports whether the leader restarts the VM elsewhere when its
// host fails: it is HA-managed, should not be stopped, is not migrating (a
// migration whose source died is settled first, then the VM fails over),
// and its disks survive their host (a shared pool, or none).
func (vm *VM) FailsOver() bool {
	return vm.Spec.HAEnabled() && vm.DesiredState != VMStopped && vm.Migration == "" && !vm.LocalDisks
}

// NoFailoverReason says why a VM on a failed host is not restarted elsewhere,
// "" when it is (FailsOver).
func (vm *VM) NoFailoverReason() string {
	switch {
	case !vm.Spec.HAEnabled():
		return "HA is off for it"
	case vm.DesiredState == VMStopped:
		return "it is meant to be stopped"
	case vm.Migration != "":
		return "it was migrating"
	case vm.LocalDisks:
		return fmt.Sprintf("its root volume is in dir pool %s, on the failed host's own disk: it waits for its host", vm.Spec.EffectivePool())
	}
	return ""
}

// HAPriority is the VM's restart priority (0 without a policy).
func (s VMSpec) HAPriority() int {
	if s.HA == nil {
		return 0
	}
	return s.HA.Priority
}

// EffectiveFenceAction is the VM's fence action with the default applied.
func (s VMSpec) EffectiveFenceAction() string {
	if s.HA == nil || s.HA.FenceAction == "" {
		return FenceDestroy
	}
	return s.HA.FenceAction
}

// MaxHAPriority bounds HASpec.Priority.
const MaxHAPriority = 1000

// ValidateHA checks a VM's HA policy.
func ValidateHA(h *HASpec) error {
	if h == nil {
		return nil
	}
	if h.Priority < 0 || h.Priority > MaxHAPriority {
		return errorf(ErrInvalid, "ha.priority must be between 0 and %d, got %d", MaxHAPriority, h.Priority)
	}
	switch h.FenceAction {
	case "", FenceDestroy, FencePause:
	default:
		return errorf(ErrInvalid, "ha.fence_action must be destroy or pause, got %q", h.FenceAction)
	}
	return nil
}

// FailoverVM is one VM of a failover: where it was restarted, or why it could
// not be.
type FailoverVM struct {
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	// Node is where the VM was placed; empty when it fit nowhere (it then
	// waits, pending, with Reason).
	Node       string    `json:"node,omitempty"`
	NodeName   string    `json:"node_name,omitempty"`
	Generation uint64    `json:"generation,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	RunningAt  time.Time `json:"running_at,omitempty"`
}

// Failover records one host failure and what the leader did about it, with
// the time of each step: when the leader last heard from the host, when it
// noticed, when the host was surely fenced, when the VMs were placed elsewhere,
// and when each ran again.
type Failover struct {
	ID       string `json:"id"`
	Node     string `json:"node"`
	NodeName string `json:"node_name"`
	// Cause says how the failure was seen ("no lease renewal for 10.2s; gossip: member failed").
	Cause       string       `json:"cause"`
	LastRenewal time.Time    `json:"last_renewal,omitempty"`
	DetectedAt  time.Time    `json:"detected_at"`
	FencedAt    time.Time    `json:"fenced_at"`
	RestartedAt time.Time    `json:"restarted_at"`
	CompletedAt time.Time    `json:"completed_at,omitempty"`
	VMs         []FailoverVM `json:"vms,omitempty"`
	// LeftBehind are the VMs of the host that were not restarted elsewhere,
	// each with why (FailoverVM.Reason; no node): they stay on the failed
	// host, unknown until it returns. At most MaxLeftBehind.
	LeftBehind []FailoverVM `json:"left_behind,omitempty"`
	Index      uint64       `json:"index"`
}

// MaxLeftBehind bounds the VMs a failover record lists as left behind.
const MaxLeftBehind = 1024
