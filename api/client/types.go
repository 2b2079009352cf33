package client

import "time"

// The JSON shapes of the API. The server encodes these very types, so the client
// and the server cannot drift apart. Field names are a contract with users' scripts.

// ErrorBody is every error response: {"error":{"code":...,"message":...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong: a stable code and a message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// BootSource is what a VM boots from.
type BootSource struct {
	Kernel  string `json:"kernel,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	Disk    string `json:"disk,omitempty"`
	// DiskFormat is the disk image's format, "raw" or "qcow2". Left empty, the
	// API detects it once from the image when the VM is created and records it.
	DiskFormat string `json:"disk_format,omitempty"`
}

// NIC is a VM's network interface: on a hypervisor network or a host bridge.
type NIC struct {
	Network string `json:"network,omitempty"`
	Bridge  string `json:"bridge,omitempty"`
	MAC     string `json:"mac,omitempty"`
}

// VMRequest is the body of POST /api/v1/vms and PUT /api/v1/vms/{id}.
type VMRequest struct {
	Name      string            `json:"name"`
	VCPUs     int               `json:"vcpus"`
	MemoryMiB int64             `json:"memory_mib"`
	DiskGiB   int64             `json:"disk_gib"`
	Boot      *BootSource       `json:"boot,omitempty"`
	NICs      []NIC             `json:"nics,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// RestartPolicy is always (default), on-failure or never.
	RestartPolicy string `json:"restart_policy,omitempty"`
	// Placement is the VM's placement strategy and constraints; nil uses the
	// cluster's strategy with no constraints.
	Placement *PlacementSpec `json:"placement,omitempty"`
	// HA is the VM's high-availability policy; nil: HA-managed, priority 0,
	// destroyed when its host fences itself.
	HA *HASpec `json:"ha,omitempty"`
	// Image names the image (name, ID or ID prefix, in the VM's project)
	// the VM's root volume is cloned from; DiskGiB then sizes that volume
	// (0: the image's size). Pool is where the volume goes (default).
	Image string `json:"image,omitempty"`
	Pool  string `json:"pool,omitempty"`
	// CloudInit configures the guest through a NoCloud seed (cidata).
	CloudInit *CloudInit `json:"cloud_init,omitempty"`
}

// HASpec is a VM's high-availability policy: restarted elsewhere when its
// host fails (unless disabled), highest priority first, and fenced (destroyed
// or paused) by a host that lost its lease.
type HASpec struct {
	Disabled    bool   `json:"disabled,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	FenceAction string `json:"fence_action,omitempty"`
}

// VM is a VM as the API shows it.
type VM struct {
	ID string `json:"id"`
	// Project is the project the VM belongs to (issue 14); names are unique
	// within it.
	Project       string            `json:"project"`
	Name          string            `json:"name"`
	VCPUs         int               `json:"vcpus"`
	MemoryMiB     int64             `json:"memory_mib"`
	DiskGiB       int64             `json:"disk_gib"`
	Boot          *BootSource       `json:"boot,omitempty"`
	NICs          []NIC             `json:"nics,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	RestartPolicy string            `json:"restart_policy"`
	DesiredState  string            `json:"desired_state"`
	// State is pending (not placed), scheduled (placed, host has not reported yet),
	// running, stopped, paused or error; or unknown while its host is failed,
	// with StateReason saying why and LastState what the host last reported.
	State       string `json:"state"`
	StateReason string `json:"state_reason,omitempty"`
	LastState   string `json:"last_state,omitempty"`
	// Restarting is true from a restart request until the host reports it
	// carried it out.
	Restarting bool `json:"restarting,omitempty"`
	// Node is the assigned node's ID ("" while pending); NodeName its name.
	Node       string `json:"node"`
	NodeName   string `json:"node_name,omitempty"`
	Generation uint64 `json:"generation"`
	Error      string `json:"error,omitempty"`
	// Placement is the VM's placement strategy and constraints, as requested.
	Placement *PlacementSpec `json:"placement,omitempty"`
	// HA is the VM's high-availability policy, as requested.
	HA *HASpec `json:"ha,omitempty"`
	// Image is the ID of the VM's image and ImageName its name; Pool the
	// pool of its volumes (with an image or cloud-init only).
	Image     string `json:"image,omitempty"`
	ImageName string `json:"image_name,omitempty"`
	Pool      string `json:"pool,omitempty"`
	// LocalDisks: the root volume or a data volume is on its host's own
	// disk (a dir pool): it moves with a live or warm migration, and a
	// failover of its host leaves the VM waiting for it.
	LocalDisks bool `json:"local_disks,omitempty"`
	// Snapshots are the VM's snapshots, oldest first.
	Snapshots []VMSnapshot `json:"snapshots,omitempty"`
	// CloudInit is the guest's cloud-init configuration, in a single VM's
	// answer (lists leave user_data out).
	CloudInit *CloudInit `json:"cloud_init,omitempty"`
	// Volumes are the data volumes attached to the VM (or attaching, or
	// detaching), by target: in a single VM's answer only, never in lists.
	Volumes []VMVolume `json:"volumes,omitempty"`
	// PlacementReason says in one line why the VM is where it is (or why it
	// waits); Decision is the last placement decision in full.
	PlacementReason string    `json:"placement_reason,omitempty"`
	Decision        *Decision `json:"decision,omitempty"`
	// Migration is the ID of the VM's migration under way, "" when none.
	Migration string `json:"migration,omitempty"`
	// MovedAt is when the VM last finished a migration.
	MovedAt *time.Time `json:"moved_at,omitempty"`
	// Crashes counts the times the host found the VM dead without being asked
	// to stop it; LastCrash says how ("destroyed", "crashed").
	Crashes     uint64     `json:"crashes"`
	LastCrash   string     `json:"last_crash,omitempty"`
	LastCrashAt *time.Time `json:"last_crash_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Capacity is a node's size.
type Capacity struct {
	VCPUs     int   `json:"vcpus"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskGiB   int64 `json:"disk_gib"`
}

// Hypervisor names a node's driver and its URI.
type Hypervisor struct {
	Driver string `json:"driver"`
	URI    string `json:"uri,omitempty"`
	// MigrateURI is where the host accepts migration streams; "" lets the
	// hypervisor choose.
	MigrateURI string `json:"migrate_uri,omitempty"`
}

// Node is a host as the API shows it.
type Node struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	StatusCause string    `json:"status_cause,omitempty"`
	StatusSince time.Time `json:"status_since"`
	// StatusHistory holds the node's last status changes, oldest first.
	StatusHistory []StatusChange `json:"status_history,omitempty"`
	RaftAddr      string         `json:"raft_addr"`
	APIAddr       string         `json:"api_addr"`
	GossipAddr    string         `json:"gossip_addr"`
	Version       string         `json:"version"`
	Capacity      Capacity       `json:"capacity"`
	// Effective is what the node offers to VMs: Capacity times the overcommit
	// ratios in force.
	Effective Capacity `json:"effective"`
	Allocated Capacity `json:"allocated"`
	// Incoming is what the node holds for migrations coming in; Reserved is
	// Allocated plus Incoming, what placement counts as taken.
	Incoming Capacity `json:"incoming"`
	Reserved Capacity `json:"reserved"`
	// CPUOvercommit is the node's own vCPU overcommit ratio; 0 means the
	// cluster's (Settings.CPUOvercommit).
	CPUOvercommit float64 `json:"cpu_overcommit"`
	// Maintenance is set while the node is drained: it gets no new VMs and its
	// VMs move away.
	Maintenance       bool       `json:"maintenance"`
	MaintenanceReason string     `json:"maintenance_reason,omitempty"`
	MaintenanceSince  *time.Time `json:"maintenance_since,omitempty"`
	// Fleet is the ID of the agent that simulates this node, "" for a real host.
	Fleet string `json:"fleet,omitempty"`
	// Labels are what placement matches (a VM's node_selector): the host's
	// own (HostLabels: its agent's --label and its hypervisor's) with the
	// ones an operator set (SetLabels, node label set) over them.
	Labels     map[string]string `json:"labels,omitempty"`
	HostLabels map[string]string `json:"host_labels,omitempty"`
	SetLabels  map[string]string `json:"set_labels,omitempty"`
	Hypervisor Hypervisor        `json:"hypervisor"`
	Networks   []string          `json:"networks"`
	// ForeignDomains are domains on the node's hypervisor that NovaCron does
	// not manage; they are left alone.
	ForeignDomains []string `json:"foreign_domains"`
	// Pools are the storage pools as the node last measured them.
	Pools    []NodePool `json:"pools"`
	VMs      int        `json:"vms"`
	JoinedAt time.Time  `json:"joined_at"`
}

// NodeLabelsRequest is the body of POST /api/v1/nodes/{id}/labels: labels to
// set (or override) and labels set before to remove.
type NodeLabelsRequest struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// Member is one cluster member in GET /api/v1/cluster.
type Member struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Status is the gossip status: alive, suspect, failed or left.
	Status string `json:"status"`
	// RaftRole is voter, nonvoter or none (not in the Raft configuration yet).
	RaftRole string `json:"raft_role"`
	Leader   bool   `json:"leader"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	// GossipKeys are the fingerprints of the gossip keys the member holds,
	// primary first; none when gossip is clear text.
	GossipKeys []string `json:"gossip_keys,omitempty"`
}

// Cluster is the answer of GET /api/v1/cluster.
type Cluster struct {
	ID string `json:"id"`
	// Leader is the leader's node name, "" when there is none.
	Leader       string   `json:"leader"`
	LeaderID     string   `json:"leader_id"`
	Node         string   `json:"node"`
	Members      []Member `json:"members"`
	AppliedIndex uint64   `json:"applied_index"`
	CommitIndex  uint64   `json:"commit_index"`
	Term         uint64   `json:"term"`
	// Insecure is true when the answering node runs without TLS (agent
	// --insecure): its traffic is neither encrypted nor authenticated.
	Insecure bool `json:"insecure,omitempty"`
	// Hypervisors counts the cluster's hosts by hypervisor driver
	// ("libvirt", "sim"). A "sim" host is simulated: its VMs run nowhere.
	Hypervisors map[string]int `json:"hypervisors,omitempty"`
}

// Digest is one node's fingerprint of the replicated state
// (GET /api/v1/cluster/digest). Nodes at the same applied index must show the
// same SHA256; the counts help narrow a difference down.
type Digest struct {
	Node         string `json:"node"`
	AppliedIndex uint64 `json:"applied_index"`
	SHA256       string `json:"sha256"`
	Nodes        int    `json:"nodes"`
	VMs          int    `json:"vms"`
	Tokens       int    `json:"tokens"`
	Migrations   int    `json:"migrations"`
	Failovers    int    `json:"failovers"`
	Removals     int    `json:"removals"`
	Projects     int    `json:"projects"`
	Users        int    `json:"users"`
	Sessions     int    `json:"sessions"`
	Roles        int    `json:"roles"`
	Audit        int    `json:"audit"`
	Pools        int    `json:"pools"`
	Images       int    `json:"images"`
	Volumes      int    `json:"volumes"`
	Alerting     int    `json:"alerting"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	// Role is any role (GET /api/v1/roles); viewer (the weakest) when
	// empty. The key may do only what both its role, in its scope, and its
	// user allow; a role stronger than the user's own is refused.
	Role string `json:"role,omitempty"`
	// Project scopes the key to one project; empty is the whole cluster.
	Project string `json:"project,omitempty"`
	// TTL is a Go duration ("24h"); empty for a token that does not expire.
	TTL string `json:"ttl,omitempty"`
}

// Token is an API token. Secret is only present in the answer to its creation.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// User owns the key; Project is its scope ("" for the cluster).
	User       string     `json:"user"`
	Project    string     `json:"project,omitempty"`
	Secret     string     `json:"secret,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Health is the answer of GET /healthz, which needs no token: a load balancer or a
// script asks whether this node serves the API.
type Health struct {
	// Status is "ok" when the node serves requests.
	Status string `json:"status"`
	// Node is the answering node's name; Leader the leader's, "" when there is none.
	Node         string `json:"node"`
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
}

// StatusChange is one change of a node's status and its cause.
type StatusChange struct {
	Status string    `json:"status"`
	Cause  string    `json:"cause,omitempty"`
	At     time.Time `json:"at"`
}

// VMSnapshot is one snapshot of a VM's disks (and memory, with Memory).
type VMSnapshot struct {
	Name string `json:"name"`
	// Memory: a revert resumes the guest from the instant of the snapshot;
	// otherwise the guest restarts from its disks as they were.
	Memory bool `json:"memory,omitempty"`
	// State is creating, ready, reverting, deleting or failed.
	State string `json:"state"`
	// Error is why its creation, or the last revert or delete, failed.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// A browser cannot set headers on a WebSocket, so the dashboard offers two
// subprotocols instead: WebSocketProtocol, which the server answers, and
// BearerProtocolPrefix followed by its session secret, which the server
// reads as "Authorization: Bearer <secret>" and never echoes. Other
// clients send the Authorization header.
const (
	WebSocketProtocol    = "novacron.v1"
	BearerProtocolPrefix = "novacron.bearer."
)
