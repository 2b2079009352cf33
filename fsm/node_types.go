package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// NodeStatus is a node's membership status as the leader last recorded it.
type NodeStatus string

// Node statuses follow membership: alive, suspect, failed and left. Maintenance
// is not a status but an operator's flag (Node.Maintenance), so a node in
// maintenance still shows whether it is alive.
const (
	NodeAlive   NodeStatus = "alive"
	NodeSuspect NodeStatus = "suspect"
	NodeFailed  NodeStatus = "failed"
	NodeLeft    NodeStatus = "left"
)

// ValidNodeStatus reports whether s is one of the known node statuses.
func ValidNodeStatus(s NodeStatus) bool {
	switch s {
	case NodeAlive, NodeSuspect, NodeFailed, NodeLeft:
		return true
	}
	return false
}

// Capacity is what a host offers to VMs.
type Capacity struct {
	VCPUs     int   `json:"vcpus"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskGiB   int64 `json:"disk_gib"`
}

// HypervisorInfo names the driver a node runs and where it reaches it.
type HypervisorInfo struct {
	Driver string `json:"driver"`
	URI    string `json:"uri,omitempty"`
	// MigrateURI is where the host accepts migration streams ("tcp://10.0.0.2");
	// empty lets the hypervisor choose.
	MigrateURI string `json:"migrate_uri,omitempty"`
}

// Node is one host of the cluster.
type Node struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	RaftAddr   string   `json:"raft_addr"`
	APIAddr    string   `json:"api_addr"`
	GossipAddr string   `json:"gossip_addr"`
	Version    string   `json:"version"`
	Capacity   Capacity `json:"capacity"`
	// Labels are the node's labels, which placement matches: its host's
	// (HostLabels) with an operator's (SetLabels) over them.
	Labels map[string]string `json:"labels,omitempty"`
	// HostLabels are the labels the node's agent publishes: its hypervisor's
	// and its --label flags.
	HostLabels map[string]string `json:"host_labels,omitempty"`
	// SetLabels are the labels an operator set on the node (node label set);
	// they outlive the agent's restarts and win over its own.
	SetLabels  map[string]string `json:"set_labels,omitempty"`
	Hypervisor HypervisorInfo    `json:"hypervisor"`
	// Networks are the hypervisor networks active on the node.
	Networks []string `json:"networks,omitempty"`
	// Foreign names the domains on the node's hypervisor that NovaCron does not
	// manage, as the host last reported them.
	Foreign []string `json:"foreign,omitempty"`
	// Pools are the storage pools as the host last measured them.
	Pools []PoolUsage `json:"pools,omitempty"`
	// CPUOvercommit is how many vCPUs the node offers per vCPU of Capacity;
	// 0 means the cluster's default (Settings.CPUOvercommit).
	CPUOvercommit float64 `json:"cpu_overcommit,omitempty"`
	// Fleet is the ID of the agent that simulates this node in-process (a sim
	// fleet for scale tests); empty for a real host. A fleet node lives and dies
	// with its agent.
	Fleet string `json:"fleet,omitempty"`
	// Maintenance is set by an operator (drain): no VM is placed on the node,
	// and the leader moves its VMs away.
	Maintenance       bool       `json:"maintenance,omitempty"`
	MaintenanceReason string     `json:"maintenance_reason,omitempty"`
	MaintenanceSince  time.Time  `json:"maintenance_since,omitempty"`
	Status            NodeStatus `json:"status"`
	// StatusCause says why the status last changed ("gossip: member failed", ...).
	StatusCause string    `json:"status_cause,omitempty"`
	StatusSince time.Time `json:"status_since"`
	// History holds the last status changes, oldest first, each with its cause.
	History  []StatusChange `json:"history,omitempty"`
	JoinedAt time.Time      `json:"joined_at"`
}

// StatusChange is one change of a node's status and why it happened.
type StatusChange struct {
	Status NodeStatus `json:"status"`
	Cause  string     `json:"cause,omitempty"`
	At     time.Time  `json:"at"`
}
