package client

import "time"

// Rebalancing modes: off does nothing, recommend shows the moves it would
// make, automatic makes them.
const (
	RebalanceOff       = "off"
	RebalanceRecommend = "recommend"
	RebalanceAutomatic = "automatic"
)

// Settings are the cluster-wide knobs (GET /api/v1/settings), every field
// with its value in force.
type Settings struct {
	// Strategy is the cluster's placement strategy: spread or binpack.
	Strategy string `json:"strategy"`
	// CPUOvercommit and MemoryOvercommit are the vCPUs and memory offered per
	// host vCPU and MiB (1 means no overcommit); a node may set its own CPU ratio.
	CPUOvercommit    float64 `json:"cpu_overcommit"`
	MemoryOvercommit float64 `json:"memory_overcommit"`
	// MaxMigrationsPerHost bounds the migrations a node takes part in at once;
	// MaxMigrationsPerCluster bounds them cluster-wide.
	MaxMigrationsPerHost    int               `json:"max_migrations_per_host"`
	MaxMigrationsPerCluster int               `json:"max_migrations_per_cluster"`
	Rebalance               RebalanceSettings `json:"rebalance"`
	Retention               RetentionSettings `json:"retention"`
	Images                  ImageSettings     `json:"images"`
}

// ImageSettings bound image imports.
type ImageSettings struct {
	// URLAllow lists the hosts image URLs may name ("images.example.com",
	// "*.example.com", an IP or a CIDR, optionally with ":port"); empty
	// means no URL is fetched. Loopback, private, link-local and metadata
	// addresses are fetched only when an IP or CIDR entry names them.
	URLAllow []string `json:"url_allow"`
	// MaxBytes bounds one image's size.
	MaxBytes int64 `json:"max_bytes"`
}

// RetentionSettings bound the history the cluster keeps; the leader removes
// what is past them.
type RetentionSettings struct {
	// KeepFinished is how many finished migrations, and as many finished
	// failovers, are kept at most, newest first.
	KeepFinished int `json:"keep_finished"`
	// FinishedMaxAgeSeconds: finished migrations and failovers older than this
	// are removed.
	FinishedMaxAgeSeconds int64 `json:"finished_max_age_seconds"`
	// NodeReapSeconds: a node that left, or has been failed, this long is
	// removed, unless VMs are still assigned to it.
	NodeReapSeconds int64 `json:"node_reap_seconds"`
	// AuditEntries is how many audit log entries are kept, newest first.
	AuditEntries int `json:"audit_entries"`
}

// RebalanceSettings configure the leader's rebalancer.
type RebalanceSettings struct {
	// Mode is off, recommend or automatic.
	Mode string `json:"mode"`
	// Threshold: the rebalancer acts only above this imbalance (the standard
	// deviation of node loads, 0 to 0.5).
	Threshold float64 `json:"threshold"`
	// MinGain: a move must lower the imbalance by at least this much.
	MinGain float64 `json:"min_gain"`
	// MaxMoves bounds the migrations one round starts.
	MaxMoves int `json:"max_moves"`
	// CooldownSeconds: a VM that moved is left alone this long.
	CooldownSeconds int64 `json:"cooldown_seconds"`
	// IntervalSeconds is the time between rounds.
	IntervalSeconds int64 `json:"interval_seconds"`
}

// SettingsUpdate is the body of PUT /api/v1/settings: only the fields set (non
// nil) are sent, and the others keep their value.
type SettingsUpdate struct {
	Strategy                *string                  `json:"strategy,omitempty"`
	CPUOvercommit           *float64                 `json:"cpu_overcommit,omitempty"`
	MemoryOvercommit        *float64                 `json:"memory_overcommit,omitempty"`
	MaxMigrationsPerHost    *int                     `json:"max_migrations_per_host,omitempty"`
	MaxMigrationsPerCluster *int                     `json:"max_migrations_per_cluster,omitempty"`
	Rebalance               *RebalanceSettingsUpdate `json:"rebalance,omitempty"`
	Retention               *RetentionSettingsUpdate `json:"retention,omitempty"`
	Images                  *ImageSettingsUpdate     `json:"images,omitempty"`
}

// ImageSettingsUpdate is the images part of a SettingsUpdate: a URLAllow
// given (even empty) replaces the whole list.
type ImageSettingsUpdate struct {
	URLAllow *[]string `json:"url_allow,omitempty"`
	MaxBytes *int64    `json:"max_bytes,omitempty"`
}

// RetentionSettingsUpdate is the retention part of a SettingsUpdate.
type RetentionSettingsUpdate struct {
	KeepFinished          *int   `json:"keep_finished,omitempty"`
	FinishedMaxAgeSeconds *int64 `json:"finished_max_age_seconds,omitempty"`
	NodeReapSeconds       *int64 `json:"node_reap_seconds,omitempty"`
	AuditEntries          *int   `json:"audit_entries,omitempty"`
}

// RebalanceSettingsUpdate is the rebalance part of a SettingsUpdate.
type RebalanceSettingsUpdate struct {
	Mode            *string  `json:"mode,omitempty"`
	Threshold       *float64 `json:"threshold,omitempty"`
	MinGain         *float64 `json:"min_gain,omitempty"`
	MaxMoves        *int     `json:"max_moves,omitempty"`
	CooldownSeconds *int64   `json:"cooldown_seconds,omitempty"`
	IntervalSeconds *int64   `json:"interval_seconds,omitempty"`
}

// RebalanceStatus is GET /api/v1/rebalance: the leader's last rebalancing
// round and the automatic moves made recently.
type RebalanceStatus struct {
	Mode     string `json:"mode"`
	Leader   string `json:"leader"`
	LeaderID string `json:"leader_id"`
	// LastRound is when the leader last computed a plan; nil before the first.
	LastRound *time.Time `json:"last_round,omitempty"`
	// Imbalance is the standard deviation of node loads; the rebalancer acts
	// only above Threshold.
	Imbalance float64     `json:"imbalance"`
	Threshold float64     `json:"threshold"`
	Nodes     []NodeScore `json:"nodes"`
	// Recommendations are the moves that would lower the imbalance, best first;
	// in automatic mode the leader makes them.
	Recommendations []Move `json:"recommendations"`
	// Reason says in one line why there are no moves, or what they achieve.
	Reason string `json:"reason"`
	// RecentMoves are the last automatic migrations, newest first (at most 20).
	RecentMoves []Migration `json:"recent_moves"`
}

// NodeScore is one node's load as the rebalancer sees it: the fraction of its
// effective CPU and memory in use (0 to 1) and the larger of the two.
type NodeScore struct {
	NodeID   string  `json:"node_id"`
	NodeName string  `json:"node_name"`
	CPU      float64 `json:"cpu"`
	Memory   float64 `json:"memory"`
	Load     float64 `json:"load"`
	VMs      int     `json:"vms"`
}

// Move is one migration the rebalancer proposes, with its expected effect.
type Move struct {
	VMID     string        `json:"vm_id"`
	VMName   string        `json:"vm_name"`
	From     string        `json:"from"`
	FromName string        `json:"from_name"`
	To       string        `json:"to"`
	ToName   string        `json:"to_name"`
	Effect   RebalanceMove `json:"effect"`
}
