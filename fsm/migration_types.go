package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// Migration modes: live copies memory while the guest runs (pre-copy); warm
// pauses the guest for the copy; cold shuts it down, moves it and starts it.
const (
	MigrateLive = "live"
	MigrateWarm = "warm"
	MigrateCold = "cold"
)

// MigrationState is where a migration is in its life.
type MigrationState string

// Migration states. pending waits for a slot under the concurrency bounds;
// preparing waits for the destination to say it is ready; running is copying;
// the other three are final.
const (
	MigrationPending   MigrationState = "pending"
	MigrationPreparing MigrationState = "preparing"
	MigrationRunning   MigrationState = "running"
	MigrationCompleted MigrationState = "completed"
	MigrationFailed    MigrationState = "failed"
	MigrationCancelled MigrationState = "cancelled"
)

// Final reports whether no further change can happen to a migration in state s.
func (s MigrationState) Final() bool {
	return s == MigrationCompleted || s == MigrationFailed || s == MigrationCancelled
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
	// Compression is "", "xbzrle", or with parallel > 1 "zlib" or "zstd".
	Compression string `json:"compression,omitempty"`
}

// MigrationProgress is the running job's figures, as the source last reported.
type MigrationProgress struct {
	Percent       float64 `json:"percent"`
	DataTotal     uint64  `json:"data_total_bytes"`
	DataProcessed uint64  `json:"data_processed_bytes"`
	DataRemaining uint64  `json:"data_remaining_bytes"`
	// DirtyRate is the guest's memory dirtying rate in bytes per second.
	DirtyRate uint64 `json:"dirty_rate_bytes_per_second"`
	Iteration uint64 `json:"iteration"`
}

// MigrationResult is libvirt's figures for a completed job.
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
	// SourceLoad and TargetLoad are the two nodes' loads (0..1) before the move.
	SourceLoad float64 `json:"source_load"`
	TargetLoad float64 `json:"target_load"`
}

// Migration is one move of a VM between two nodes, from request to outcome.
type Migration struct {
	ID     string `json:"id"`
	VMID   string `json:"vm_id"`
	VMName string `json:"vm_name"`
	Mode   string `json:"mode"`
	// Source and Target are node IDs.
	Source  string           `json:"source"`
	Target  string           `json:"target"`
	Options MigrationOptions `json:"options"`
	State   MigrationState   `json:"state"`
	// Reason says who asked: "user", "drain", or the rebalancer's explanation.
	Reason    string         `json:"reason"`
	Rebalance *RebalanceMove `json:"rebalance,omitempty"`
	// FromGeneration is the VM's generation on the source; the VM is at
	// FromGeneration+1 on the target once the migration completes.
	FromGeneration uint64 `json:"from_generation"`
	// TargetReady is set by the destination once it prepared.
	TargetReady bool `json:"target_ready,omitempty"`
	// TargetPoolDir is where the destination prepared the VM's volumes
	// (its pool's folder), so the source can point the copy there.
	TargetPoolDir string `json:"target_pool_dir,omitempty"`
	// SourceStopped: in a cold migration of a VM with disks on its host's
	// own disk, the source shut the guest down and serves its disk files;
	// DisksCopied: the destination copied them, so the source may end it.
	SourceStopped   bool               `json:"source_stopped,omitempty"`
	DisksCopied     bool               `json:"disks_copied,omitempty"`
	CancelRequested bool               `json:"cancel_requested,omitempty"`
	Progress        *MigrationProgress `json:"progress,omitempty"`
	Result          *MigrationResult   `json:"result,omitempty"`
	Error           string             `json:"error,omitempty"`
	CreatedAt       time.Time          `json:"created_at"`
	StartedAt       time.Time          `json:"started_at,omitempty"`
	FinishedAt      time.Time          `json:"finished_at,omitempty"`
	UpdatedAt       time.Time          `json:"updated_at"`
	// Index is the Raft index of the last change to this record.
	Index uint64 `json:"index"`
}
