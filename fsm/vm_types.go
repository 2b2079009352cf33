package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// VMState is a VM's state, desired or observed.
type VMState string

// VM states. Desired state is one of running, stopped or paused. Observed state adds
// pending (not placed yet), scheduled (placed, the host has not reported) and error.
const (
	VMPending   VMState = "pending"
	VMScheduled VMState = "scheduled"
	VMRunning   VMState = "running"
	VMStopped   VMState = "stopped"
	VMPaused    VMState = "paused"
	VMError     VMState = "error"
)

// ValidReportedState reports whether a host may report s for a VM.
func ValidReportedState(s VMState) bool {
	switch s {
	case VMRunning, VMStopped, VMPaused, VMError:
		return true
	}
	return false
}

// Restart policies: what the host does when a VM that should run stops without
// being asked to. always: start it again, whatever stopped it; on-failure: only
// after a crash or a kill (not after the guest powered itself off); never: leave
// it stopped. The default is always.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// VMSpec is what the user asks for.
type VMSpec struct {
	Name      string            `json:"name"`
	VCPUs     int               `json:"vcpus"`
	MemoryMiB int64             `json:"memory_mib"`
	DiskGiB   int64             `json:"disk_gib"`
	Boot      *BootSource       `json:"boot,omitempty"`
	NICs      []NIC             `json:"nics,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// RestartPolicy is always, on-failure or never; empty means always.
	RestartPolicy string `json:"restart_policy,omitempty"`
	// Placement holds the VM's placement strategy and constraints.
	Placement *PlacementSpec `json:"placement,omitempty"`
	// HA is the VM's high-availability policy; nil means HA-managed with
	// the defaults.
	HA *HASpec `json:"ha,omitempty"`
	// Image is the ID of the image the VM's root volume is cloned from (a
	// qcow2 overlay of DiskGiB in Pool, made by its host); empty for a VM
	// that boots from Boot alone.
	Image string `json:"image,omitempty"`
	// Pool is the pool of the VM's volumes; empty means DefaultPool.
	Pool string `json:"pool,omitempty"`
	// CloudInit is the guest's NoCloud configuration, written by its host
	// as a read-only volume labelled cidata.
	CloudInit *CloudInit `json:"cloud_init,omitempty"`
}

// EffectivePool is the spec's pool with the default applied.
func (s VMSpec) EffectivePool() string {
	if s.Pool == "" {
		return DefaultPool
	}
	return s.Pool
}

// EffectiveRestartPolicy is the spec's restart policy with the default applied.
func (s VMSpec) EffectiveRestartPolicy() string {
	if s.RestartPolicy == "" {
		return RestartAlways
	}
	return s.RestartPolicy
}

// VM is a virtual machine record: the user's spec and intent, where it is placed,
// and what its host last reported.
type VM struct {
	ID string `json:"id"`
	// Project is the project the VM belongs to; names are unique within it.
	// A record written before projects existed has none: it is in
	// DefaultProject (restore fills it in).
	Project      string  `json:"project,omitempty"`
	Spec         VMSpec  `json:"spec"`
	DesiredState VMState `json:"desired_state"`
	// RequestID is the CreateVM.RequestID that made the VM, if any: a retry
	// of that create finds it here.
	RequestID string `json:"request_id,omitempty"`
	// Node is the ID of the node the VM is assigned to, empty while pending.
	Node string `json:"node"`
	// Generation counts placements. A host acts only on orders carrying the
	// generation it holds or a newer one, so a stale host cannot run a moved VM.
	Generation uint64 `json:"generation"`
	// RestartSeq is bumped by every restart request; the host reports the last one
	// it carried out in ReportedRestartSeq.
	RestartSeq         uint64 `json:"restart_seq"`
	ReportedRestartSeq uint64 `json:"reported_restart_seq"`
	// State is the observed state: pending, scheduled, or what the host reported.
	State VMState `json:"state"`
	Error string  `json:"error,omitempty"`
	// Crashes counts the times the host found the VM dead without having been
	// asked to stop it; LastCrash says how ("destroyed", "crashed").
	Crashes     uint64    `json:"crashes,omitempty"`
	LastCrash   string    `json:"last_crash,omitempty"`
	LastCrashAt time.Time `json:"last_crash_at,omitempty"`
	// Placement is the one-line reason of the last placement decision;
	// Decision holds its whole explanation (and why a pending VM fits nowhere).
	Placement string    `json:"placement,omitempty"`
	Decision  *Decision `json:"decision,omitempty"`
	// Migration is the ID of the VM's migration under way, if any; while it is
	// set no other migration of the VM starts and hosts leave its domain alone.
	Migration string `json:"migration,omitempty"`
	// MovedAt is when the VM last finished a migration; rebalancing leaves a VM
	// alone for a cooldown after it moved.
	MovedAt time.Time `json:"moved_at,omitempty"`
	// LocalDisks: the VM's root volume or an attached data volume is in a
	// dir pool, on its host's own disk. It dies with the host, so a failover
	// does not restart the VM elsewhere on a blank copy; it waits for its
	// host. Set at creation and by every attach and detach (pools never
	// change type).
	LocalDisks bool `json:"local_disks,omitempty"`
	// Snapshots are the VM's snapshots, oldest first (vm_snapshot.go).
	Snapshots  []VMSnapshot `json:"snapshots,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	ReportedAt time.Time    `json:"reported_at,omitempty"`
	// Index is the Raft index of the last change to this record.
	Index uint64 `json:"index"`
}
