package build

import (
	"github.com/novacron/novacron/api"
	c "github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/enroll"
)

// The few answers that api builds as maps rather than api/client types.
type (
	// Deleted answers the removal of an alert rule, a silence or an alert
	// target: what was deleted.
	Deleted struct {
		Deleted string `json:"deleted"`
	}
	// Status answers a logout or a session's end.
	Status struct {
		Status string `json:"status"`
	}
	// RoleDeleted answers DELETE /api/v1/roles/{name}.
	RoleDeleted struct {
		Status string `json:"status"`
		Role   string `json:"role"`
	}
	// MemberRemoved answers DELETE /api/v1/projects/{name}/members/{subject}.
	MemberRemoved struct {
		Status  string `json:"status"`
		Member  string `json:"member"`
		Project string `json:"project"`
	}
)

// Status codes, short.
const (
	s200 = 200
	s201 = 201
	s202 = 202
)

// operations is every operation of the API. POST /api/v1/vms/:id/:action
// (one httprouter route) is written out as the operations it serves: start,
// stop, restart, pause, resume, migrate, volumes (an attach) and snapshots.
var operations = []op{
	{method: "GET", path: "/healthz", summary: "Whether the process serves", auth: public, out: c.Health{}},
	{method: "GET", path: "/metrics", summary: "Prometheus metrics", auth: metricsAuth, media: promText, errs: []int{401}},
	{method: "GET", path: "/api/v1/openapi.json", summary: "This document", auth: public, out: map[string]any{}, ok: []int{200, 304}},

	{method: "GET", path: "/api/v1/cluster", summary: "Leader, members and indexes as this node sees them", out: c.Cluster{}},
	{method: "GET", path: "/api/v1/cluster/digest", summary: "This node's state digest", out: c.Digest{}},

	{method: "GET", path: "/api/v1/nodes", summary: "List nodes", page: true, out: []c.Node{}},
	{method: "GET", path: "/api/v1/nodes/{id}", summary: "One node", out: c.Node{}},
	{method: "GET", path: "/api/v1/nodes/{id}/metrics", summary: "A host's metrics history", query: []string{"since", "from", "to", "step"}, out: c.MetricsHistory{}, errs: []int{409}},
	{method: "GET", path: "/api/v1/nodes/{id}/drain", summary: "A node's drain status", out: c.DrainStatus{}},
	{method: "POST", path: "/api/v1/nodes/{id}/drain", summary: "Drain a node", in: c.DrainRequest{}, optionalIn: true, ok: []int{s202}, out: c.DrainStatus{}},
	{method: "POST", path: "/api/v1/nodes/{id}/undrain", summary: "End a node's maintenance", out: c.Node{}},
	{method: "POST", path: "/api/v1/nodes/{id}/labels", summary: "Set and remove an operator's labels", in: c.NodeLabelsRequest{}, out: c.Node{}},
	{method: "GET", path: "/api/v1/nodes/{id}/failover-plan", summary: "Where each VM of a node would go if it died now", out: c.FailoverPlan{}},

	{method: "GET", path: "/api/v1/vms", summary: "List VMs", query: []string{"project", "all-projects", "node", "state", "label"}, page: true, out: []c.VM{}},
	{method: "POST", path: "/api/v1/vms", summary: "Create a VM (Idempotency-Key makes a retry safe)", query: []string{"project"}, in: c.VMRequest{}, ok: []int{s201}, out: c.VM{}},
	{method: "GET", path: "/api/v1/vms/{id}", summary: "One VM, with its volumes", query: []string{"project"}, out: c.VM{}},
	{method: "PUT", path: "/api/v1/vms/{id}", summary: "Replace a VM's spec", query: []string{"project"}, in: c.VMRequest{}, out: c.VM{}},
	{method: "DELETE", path: "/api/v1/vms/{id}", summary: "Delete a VM", query: []string{"project", "keep_volumes"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/start", summary: "Start a VM", query: []string{"project"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/stop", summary: "Stop a VM", query: []string{"project"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/restart", summary: "Restart a VM", query: []string{"project"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/pause", summary: "Pause a VM", query: []string{"project"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/resume", summary: "Resume a paused VM", query: []string{"project"}, out: c.VM{}},
	{method: "POST", path: "/api/v1/vms/{id}/migrate", summary: "Migrate a VM", query: []string{"project"}, in: c.MigrateRequest{}, optionalIn: true, ok: []int{s202}, out: c.Migration{}},
	{method: "GET", path: "/api/v1/vms/{id}/console", summary: "The serial console, as a WebSocket", query: []string{"project"}, media: websocket, ok: []int{101}, errs: []int{409}},
	{method: "GET", path: "/api/v1/vms/{id}/console/log", summary: "The serial log from a byte on (at most 1 MiB)", query: []string{"project", "offset"}, media: plainText, errs: []int{409}},
	{method: "GET", path: "/api/v1/vms/{id}/metrics", summary: "A VM's metrics history", query: []string{"project", "since", "from", "to", "step"}, out: c.MetricsHistory{}, errs: []int{409}},
	{method: "GET", path: "/api/v1/metrics/latest", summary: "The newest sample of every VM and host the caller may read", out: api.LatestMetrics{}, errs: []int{409}},
	{method: "GET", path: "/api/v1/vms/{id}/volumes", summary: "The volumes attached to a VM", query: []string{"project"}, out: []c.Volume{}},
	{method: "POST", path: "/api/v1/vms/{id}/volumes", summary: "Attach a data volume", query: []string{"project"}, in: c.AttachRequest{}, ok: []int{s202}, out: c.Volume{}},
	{method: "DELETE", path: "/api/v1/vms/{id}/volumes/{volume}", summary: "Detach a data volume", query: []string{"project"}, ok: []int{s202}, out: c.Volume{}},
	{method: "GET", path: "/api/v1/vms/{id}/snapshots", summary: "A VM's snapshots, oldest first", query: []string{"project"}, out: []c.VMSnapshot{}},
	{method: "POST", path: "/api/v1/vms/{id}/snapshots", summary: "Take a snapshot", query: []string{"project"}, in: c.SnapshotRequest{}, ok: []int{s202}, out: c.VMSnapshot{}},
	{method: "GET", path: "/api/v1/vms/{id}/snapshots/{name}", summary: "One snapshot", query: []string{"project"}, out: c.VMSnapshot{}},
	{method: "POST", path: "/api/v1/vms/{id}/snapshots/{name}/revert", summary: "Revert a VM to a snapshot", query: []string{"project"}, ok: []int{s202}, out: c.VMSnapshot{}},
	{method: "DELETE", path: "/api/v1/vms/{id}/snapshots/{name}", summary: "Delete a snapshot", query: []string{"project"}, ok: []int{s202, s200}, out: c.VMSnapshot{}},

	{method: "GET", path: "/api/v1/storage/pools", summary: "List storage pools", page: true, out: []c.Pool{}},
	{method: "POST", path: "/api/v1/storage/pools", summary: "Create a storage pool", in: c.PoolRequest{}, ok: []int{s201}, out: c.Pool{}},
	{method: "DELETE", path: "/api/v1/storage/pools/{name}", summary: "Delete a storage pool", out: c.Pool{}},
	{method: "GET", path: "/api/v1/images", summary: "List images", query: []string{"project", "all-projects"}, page: true, out: []c.Image{}},
	{method: "POST", path: "/api/v1/images", summary: "Import an image", query: []string{"project"}, in: c.ImageRequest{}, ok: []int{s202}, out: c.Image{}},
	{method: "GET", path: "/api/v1/images/{id}", summary: "One image", query: []string{"project"}, out: c.Image{}},
	{method: "DELETE", path: "/api/v1/images/{id}", summary: "Delete an image", query: []string{"project"}, out: c.Image{}},
	{method: "GET", path: "/api/v1/volumes", summary: "List data volumes", query: []string{"project", "all-projects"}, page: true, out: []c.Volume{}},
	{method: "POST", path: "/api/v1/volumes", summary: "Create a data volume", query: []string{"project"}, in: c.VolumeRequest{}, ok: []int{s201}, out: c.Volume{}},
	{method: "GET", path: "/api/v1/volumes/{id}", summary: "One data volume", query: []string{"project"}, out: c.Volume{}},
	{method: "PATCH", path: "/api/v1/volumes/{id}", summary: "Grow a data volume", query: []string{"project"}, in: c.VolumeResize{}, ok: []int{s202}, out: c.Volume{}},
	{method: "DELETE", path: "/api/v1/volumes/{id}", summary: "Delete a data volume", query: []string{"project"}, ok: []int{s202, s200}, out: c.Volume{}},

	{method: "GET", path: "/api/v1/events", summary: "The event stream: NDJSON, or a WebSocket with the upgrade headers", query: []string{"after@events", "follow", "limit@events", "type", "project", "object"}, media: ndjson, ok: []int{s200, 101}, out: c.EventFrame{}, errs: []int{409}},
	{method: "GET", path: "/api/v1/operations", summary: "List operations, newest first", page: true, out: []c.Operation{}},
	{method: "GET", path: "/api/v1/operations/{id}", summary: "One operation", query: []string{"wait@op"}, out: c.Operation{}},
	{method: "DELETE", path: "/api/v1/operations/{id}", summary: "Cancel an operation", ok: []int{s202, s200}, out: c.Operation{}},
	{method: "GET", path: "/api/v1/migrations", summary: "List migrations, newest first", query: []string{"vm", "state", "node"}, page: true, out: []c.Migration{}},
	{method: "GET", path: "/api/v1/migrations/{id}", summary: "One migration", out: c.Migration{}},
	{method: "POST", path: "/api/v1/migrations/{id}/cancel", summary: "Cancel a migration", ok: []int{s200, s202}, out: c.Migration{}},

	{method: "GET", path: "/api/v1/alerts", summary: "List alerts, newest change first", query: []string{"state", "project"}, out: []c.Alert{}},
	{method: "GET", path: "/api/v1/alerts/{id}", summary: "One alert", out: c.Alert{}},
	{method: "POST", path: "/api/v1/alerts/{id}/ack", summary: "Acknowledge an alert", out: c.Alert{}},
	{method: "GET", path: "/api/v1/alert-rules", summary: "List alert rules", out: []c.AlertRule{}},
	{method: "POST", path: "/api/v1/alert-rules", summary: "Create or replace an alert rule", in: c.AlertRule{}, out: c.AlertRule{}},
	{method: "DELETE", path: "/api/v1/alert-rules/{name}", summary: "Delete a custom alert rule", out: Deleted{}},
	{method: "GET", path: "/api/v1/silences", summary: "List silences", out: []c.Silence{}},
	{method: "POST", path: "/api/v1/silences", summary: "Create a silence", in: c.Silence{}, ok: []int{s201}, out: c.Silence{}},
	{method: "DELETE", path: "/api/v1/silences/{id}", summary: "Delete a silence", out: Deleted{}},
	{method: "GET", path: "/api/v1/alert-targets", summary: "List alert targets, without secrets", out: []c.AlertTarget{}},
	{method: "POST", path: "/api/v1/alert-targets", summary: "Create or replace an alert target", in: c.AlertTarget{}, ok: []int{s201}, out: c.AlertTarget{}},
	{method: "DELETE", path: "/api/v1/alert-targets/{name}", summary: "Delete an alert target", out: Deleted{}},
	{method: "GET", path: "/api/v1/failovers", summary: "List failovers, newest first", query: []string{"node"}, page: true, out: []c.Failover{}},
	{method: "GET", path: "/api/v1/failovers/{id}", summary: "One failover", out: c.Failover{}},

	{method: "POST", path: "/api/v1/login", summary: "Log in with a password", auth: public, in: c.LoginRequest{}, ok: []int{s201}, out: c.Login{}, errs: []int{400, 401, 409, 429, 503, 504}},
	{method: "POST", path: "/api/v1/login/oidc", summary: "Log in with an identity provider's ID token", auth: public, in: c.OIDCLoginRequest{}, ok: []int{s201}, out: c.Login{}, errs: []int{400, 401, 403, 409, 429, 503, 504, 404}},
	{method: "GET", path: "/api/v1/auth/oidc", summary: "The identity provider to log in with", auth: public, out: c.OIDCConfig{}, errs: []int{404}},
	{method: "POST", path: "/api/v1/logout", summary: "End the request's own login session", out: Status{}},
	{method: "GET", path: "/api/v1/whoami", summary: "The caller", out: c.Whoami{}},
	{method: "GET", path: "/api/v1/auth/can-i", summary: "Whether the caller has a permission", query: []string{"perm", "project"}, out: c.CanI{}},
	{method: "GET", path: "/api/v1/sessions", summary: "List login sessions, oldest first", query: []string{"user"}, page: true, out: []c.Session{}},
	{method: "DELETE", path: "/api/v1/sessions/{id}", summary: "End a login session", out: Status{}},
	{method: "GET", path: "/api/v1/users", summary: "List users", page: true, out: []c.User{}},
	{method: "POST", path: "/api/v1/users", summary: "Create a user", in: c.UserRequest{}, ok: []int{s201}, out: c.User{}},
	{method: "GET", path: "/api/v1/users/{name}", summary: "One user", out: c.User{}},
	{method: "PUT", path: "/api/v1/users/{name}", summary: "Change a user's password, role or state", in: c.UserRequest{}, out: c.User{}},
	{method: "DELETE", path: "/api/v1/users/{name}", summary: "Delete a user", out: c.User{}},
	{method: "GET", path: "/api/v1/roles", summary: "List roles, built-in first", out: []c.Role{}},
	{method: "POST", path: "/api/v1/roles", summary: "Create a custom role", in: c.RoleRequest{}, ok: []int{s201}, out: c.Role{}},
	{method: "GET", path: "/api/v1/roles/{name}", summary: "One role", out: c.Role{}},
	{method: "DELETE", path: "/api/v1/roles/{name}", summary: "Delete a custom role", out: RoleDeleted{}},
	{method: "GET", path: "/api/v1/projects", summary: "List projects with their usage", page: true, out: []c.Project{}},
	{method: "POST", path: "/api/v1/projects", summary: "Create a project", in: c.ProjectRequest{}, ok: []int{s201}, out: c.Project{}},
	{method: "GET", path: "/api/v1/projects/{name}", summary: "One project with its usage", out: c.Project{}},
	{method: "PUT", path: "/api/v1/projects/{name}", summary: "Replace a project's description and quota", in: c.ProjectRequest{}, out: c.Project{}},
	{method: "DELETE", path: "/api/v1/projects/{name}", summary: "Delete a project", out: c.Project{}},
	{method: "GET", path: "/api/v1/projects/{name}/members", summary: "A project's members", out: []c.ProjectMember{}},
	{method: "POST", path: "/api/v1/projects/{name}/members", summary: "Bind a user or a group, or change its role", in: c.ProjectMember{}, out: c.ProjectMember{}},
	{method: "DELETE", path: "/api/v1/projects/{name}/members/{subject}", summary: "Unbind a user or a group", out: MemberRemoved{}},
	{method: "GET", path: "/api/v1/audit", summary: "The audit log, newest first", query: []string{"project", "actor", "action", "since@audit", "limit@audit", "before"}, out: []c.AuditEntry{}},
	{method: "GET", path: "/api/v1/removals", summary: "Deleted VMs whose hosts have yet to remove their domains", query: []string{"node"}, page: true, out: []c.Removal{}},
	{method: "GET", path: "/api/v1/removals/{id}", summary: "One removal, by the VM's whole ID", out: c.Removal{}},

	{method: "GET", path: "/api/v1/settings", summary: "The cluster settings", out: c.Settings{}},
	{method: "PUT", path: "/api/v1/settings", summary: "Change cluster settings (the fields sent)", in: c.Settings{}, out: c.Settings{}},
	{method: "GET", path: "/api/v1/rebalance", summary: "The rebalancer's status", out: c.RebalanceStatus{}},

	{method: "GET", path: "/api/v1/tokens", summary: "List API keys, without secrets", page: true, out: []c.Token{}},
	{method: "POST", path: "/api/v1/tokens", summary: "Create an API key (its secret is shown only here)", in: c.TokenRequest{}, ok: []int{s201}, out: c.Token{}},
	{method: "GET", path: "/api/v1/tokens/{id}", summary: "One API key (self: the request's own)", out: c.Token{}},
	{method: "DELETE", path: "/api/v1/tokens/{id}", summary: "Revoke an API key", out: c.Token{}},
	{method: "GET", path: "/api/v1/join-tokens", summary: "List join tokens, without secrets", page: true, out: []c.JoinToken{}},
	{method: "POST", path: "/api/v1/join-tokens", summary: "Create a join token (shown only here)", in: c.JoinTokenRequest{}, ok: []int{s201}, out: c.JoinToken{}},
	{method: "DELETE", path: "/api/v1/join-tokens/{id}", summary: "Revoke a join token", out: c.JoinToken{}},
	{method: "GET", path: "/api/v1/enroll/ca", summary: "The cluster CA's certificate", auth: public, out: enroll.CA{}, errs: []int{409}},
	{method: "POST", path: "/api/v1/enroll", summary: "A new host's certificate, for a join token", auth: public, in: enroll.Request{}, out: enroll.Answer{}, errs: []int{400, 403, 409, 413, 415, 503, 504}},

	{method: "GET", path: "/api/v1/operator/gossip/keyring", summary: "The gossip keyring (it shows the keys)", out: c.GossipKeyring{}},
	{method: "POST", path: "/api/v1/operator/gossip/keyring", summary: "Install, use or remove a gossip key", in: c.GossipKeyringRequest{}, ok: []int{s202}, out: c.GossipKeyring{}, errs: []int{404}},
}
