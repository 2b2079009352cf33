package client

import "time"

// Migration modes: live copies memory while the guest runs; warm pauses the
// guest for the copy; cold shuts it down, moves it and starts it.
const (
	MigrateLive = "live"
	MigrateWarm = "warm"
	MigrateCold = "cold"
)

// Migration states. pending waits for a slot under the concurrency bounds,
// preparing for the destination, running is copying; the last three are final.
const (
	MigrationPending   = "pending"
	MigrationPreparing = "preparing"
	MigrationRunning   = "running"
	MigrationCompleted = "completed"
	MigrationFailed    = "failed"
	MigrationCancelled = "cancelled"
)

// MigrationFinal reports whether a migration in state can no longer change.
func MigrationFinal(state string) bool {
	return state == MigrationCompleted || state == MigrationFailed || state == MigrationCancelled
}

// MigrateRequest is the body of POST /api/v1/vms/{id}/migrate. Every field may
// be left out.
type MigrateRequest struct {
	// Mode is live (default), warm or cold.
	Mode string `json:"mode,omitempty"`
	// Target is the destination node's name or ID; "" lets the scheduler choose
	// among the other nodes.
	Target string `json:"target,omitempty"`
	// The options of a live or warm migration (see MigrationOptions).
	MaxDowntimeMs  int64  `json:"max_downtime_ms,omitempty"`
	BandwidthMiBps uint64 `json:"bandwidth_mibps,omitempty"`
	AutoConverge   bool   `json:"auto_converge,omitempty"`
	PostCopy       bool   `json:"post_copy,omitempty"`
	Parallel       int    `json:"parallel,omitempty"`
	Compression    string `json:"compression,omitempty"`
}

// Options returns the migration options the request carries.
func (r MigrateRequest) Options() MigrationOptions {
	return MigrationOptions{
		MaxDowntimeMs: r.MaxDowntimeMs, BandwidthMiBps: r.BandwidthMiBps, AutoConverge: r.AutoConverge,
		PostCopy: r.PostCopy, Parallel: r.Parallel, Compression: r.Compression,
	}
}

// MigrationOptions tune a live or warm migration; zero values are libvirt's
// defaults.
type MigrationOptions struct {
	MaxDowntimeMs  int64  `json:"max_downtime_ms,omitempty"`
	BandwidthMiBps uint64 `json:"bandwidth_mibps,omitempty"`
	AutoConverge   bool   `json:"auto_converge,omitempty"`
	PostCopy       bool   `json:"post_copy,omitempty"`
	// Parallel is the number of connections for the copy.
	Parallel int `json:"parallel,omitempty"`
	// Compression is "", xbzrle, or with parallel of 2 or more zlib or zstd.
	Compression string `json:"compression,omitempty"`
}

// MigrationProgress is the running copy's figures, as the source last reported.
type MigrationProgress struct {
	Percent       float64 `json:"percent"`
	DataTotal     uint64  `json:"data_total_bytes"`
	DataProcessed uint64  `json:"data_processed_bytes"`
	DataRemaining uint64  `json:"data_remaining_bytes"`
	// DirtyRate is the guest's memory dirtying rate in bytes per second.
	DirtyRate uint64 `json:"dirty_rate_bytes_per_second"`
	Iteration uint64 `json:"iteration"`
}

// MigrationResult is libvirt's figures for a completed migration.
type MigrationResult struct {
	TotalMs         int64  `json:"total_ms"`
	DowntimeMs      int64  `json:"downtime_ms"`
	DataTransferred uint64 `json:"data_transferred_bytes"`
	Iterations      uint64 `json:"iterations,omitempty"`
}

// RebalanceMove explains why the rebalancer started a migration.
type RebalanceMove struct {
	ImbalanceBefore float64 `json:"imbalance_before"`
	ImbalanceAfter  float64 `json:"imbalance_after"`
	SourceLoad      float64 `json:"source_load"`
	TargetLoad      float64 `json:"target_load"`
}

// Migration is one move of a VM between two nodes, from request to outcome.
type Migration struct {
	ID     string `json:"id"`
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	Mode   string `json:"mode"`
	// Source and Target are node IDs, with their names beside them.
	Source     string           `json:"source"`
	SourceName string           `json:"source_name,omitempty"`
	Target     string           `json:"target"`
	TargetName string           `json:"target_name,omitempty"`
	Options    MigrationOptions `json:"options"`
	State      string           `json:"state"`
	// Reason says who asked: "user", "drain", or the rebalancer's explanation;
	// Rebalance holds the rebalancer's figures for an automatic move.
	Reason         string         `json:"reason"`
	Rebalance      *RebalanceMove `json:"rebalance,omitempty"`
	FromGeneration uint64         `json:"from_generation"`
	// TargetReady is set once the destination prepared.
	TargetReady bool `json:"target_ready"`
	// SourceStopped and DisksCopied follow a cold migration that moves
	// local disks: the source shut the guest down; the destination copied
	// its disk files.
	SourceStopped   bool               `json:"source_stopped,omitempty"`
	DisksCopied     bool               `json:"disks_copied,omitempty"`
	CancelRequested bool               `json:"cancel_requested"`
	Progress        *MigrationProgress `json:"progress,omitempty"`
	Result          *MigrationResult   `json:"result,omitempty"`
	Error           string             `json:"error,omitempty"`
	CreatedAt       time.Time          `json:"created_at"`
	StartedAt       *time.Time         `json:"started_at,omitempty"`
	FinishedAt      *time.Time         `json:"finished_at,omitempty"`
	UpdatedAt       time.Time          `json:"updated_at"`
	// Index is the Raft index of the record's last change.
	Index uint64 `json:"index"`
}

// DrainRequest is the optional body of POST /api/v1/nodes/{id}/drain.
type DrainRequest struct {
	Reason string `json:"reason,omitempty"`
}

// DrainStatus is how far a node's drain has got: the VMs still on it, each with
// its migration under way, and those that no other node can take.
type DrainStatus struct {
	NodeID            string     `json:"node_id"`
	NodeName          string     `json:"node_name"`
	Maintenance       bool       `json:"maintenance"`
	MaintenanceReason string     `json:"maintenance_reason,omitempty"`
	MaintenanceSince  *time.Time `json:"maintenance_since,omitempty"`
	// Done: the node is in maintenance and no VM is left on it.
	Done bool `json:"done"`
	// Operation is the ID of the drain's operation while the node is in
	// maintenance (GET /api/v1/operations/{id}; DELETE there ends it).
	Operation string        `json:"operation,omitempty"`
	VMs       []DrainVM     `json:"vms"`
	Unmovable []UnmovableVM `json:"unmovable"`
}

// DrainVM is one VM still on a draining node.
type DrainVM struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	// Migration is the VM's migration under way, nil when none.
	Migration *DrainMigration `json:"migration"`
}

// DrainMigration is the short form of a migration in a drain status.
type DrainMigration struct {
	ID      string  `json:"id"`
	State   string  `json:"state"`
	Percent float64 `json:"percent"`
}

// UnmovableVM is a VM on a draining node that no other node can take now.
type UnmovableVM struct {
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	Reason string `json:"reason"`
}
