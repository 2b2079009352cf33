package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// VM snapshots (issue 15): named snapshots of every writable disk of a VM,
// taken consistently across its disks, on its host. They live inside the
// VM's qcow2 volumes on that host (libvirt's internal snapshots), so a VM
// with snapshots does not migrate, and its volumes do not change, until
// they are deleted. The API records what a user asks; the VM's host carries
// it out and reports it (ReportVMSnapshot). One snapshot action at a time
// per VM.

// SnapshotState is where a snapshot is in its life.
type SnapshotState string

// Snapshot states.
const (
	SnapshotCreating  SnapshotState = "creating"
	SnapshotReady     SnapshotState = "ready"
	SnapshotReverting SnapshotState = "reverting"
	SnapshotDeleting  SnapshotState = "deleting"
	SnapshotFailed    SnapshotState = "failed"
)

// MaxVMSnapshots bounds a VM's snapshots.
const MaxVMSnapshots = 32

// VMSnapshot is one snapshot of a VM.
type VMSnapshot struct {
	Name string `json:"name"`
	// Memory: a revert resumes the guest from the instant of the snapshot
	// (its memory state is saved); otherwise the guest restarts from its
	// disks as they were.
	Memory bool          `json:"memory,omitempty"`
	State  SnapshotState `json:"state"`
	// Error is why its creation, or the last revert or delete, failed.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateVMSnapshot asks the VM's host for a new snapshot.
type CreateVMSnapshot struct {
	VM     string    `json:"vm"`
	Name   string    `json:"name"`
	Memory bool      `json:"memory,omitempty"`
	At     time.Time `json:"at"`
}

// RevertVMSnapshot asks the VM's host to return its disks to a snapshot.
type RevertVMSnapshot struct {
	VM   string    `json:"vm"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// DeleteVMSnapshot deletes a snapshot (a failed one at once; a ready one
// through the VM's host).
type DeleteVMSnapshot struct {
	VM   string    `json:"vm"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// ReportVMSnapshot is the VM's host's account of a snapshot action: done,
// or failed with Error.
type ReportVMSnapshot struct {
	VM    string    `json:"vm"`
	Name  string    `json:"name"`
	Node  string    `json:"node"`
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}
