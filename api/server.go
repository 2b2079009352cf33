// Package api is the HTTP API of a NovaCron node. Any node answers it: reads are
// served from the local FSM (with ?index=N and ?consistent for read-your-writes and
// linearizable reads), writes go to the cluster as commands through Raft.
//
// Every route is registered with the permission it needs; one middleware checks the
// bearer token and the permission against one role table (package authz), and
// names the token in the request's context, so the leader authorises each write
// again (cluster.WithCaller). Handlers return (any, error); one wrapper writes the
// JSON answer and maps errors to status codes through one table (errors.go). The
// wire shapes are those of api/client.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/hostpath"
)

// IndexHeader carries the Raft index a response reflects: the node's applied index
// for a read, the write's index for a write. Clients pass it back as ?index=N.
const IndexHeader = "X-Novacron-Index"

// Config tunes the API server. Zero fields take the values of DefaultConfig.
type Config struct {
	// NodeName is this node's name, shown by /healthz.
	NodeName string
	// MaxBodyBytes bounds a request body; a larger one is refused with 413.
	MaxBodyBytes int64
	// MaxIndexWait bounds how long a read waits for ?index=N or ?consistent.
	MaxIndexWait time.Duration
	// RequestTimeout bounds the whole handling of one request.
	RequestTimeout time.Duration
	// MaxAuthStaleness is how long a node may go without hearing from the
	// leader and still trust its own copy of tokens and sessions; past it, a
	// credential is confirmed through the leader first, so a node cut off
	// from the leader cannot accept a token revoked meanwhile.
	MaxAuthStaleness time.Duration
	// SessionTTL is how long a login session lives after its last use
	// (it slides forward while it is used).
	SessionTTL time.Duration
	// OIDC, when set, lets users log in through an OpenID Connect provider
	// (login_oidc.go).
	OIDC OIDC
	// AuditQueue bounds the audit entries this node holds before they are
	// written (audit.go); negative records none (the API's unit tests,
	// which count writes).
	AuditQueue int
	// KeyUseEvery is how often a key's last use is recorded (a Raft write
	// in the background); negative records none (the API's unit tests, which
	// count writes).
	KeyUseEvery time.Duration
	// PlacementWait bounds how long a create whose VM was not placed in its
	// own entry waits for the placement loop's decision before answering
	// (create_wait.go); negative answers at once.
	PlacementWait time.Duration
	// BootFiles, when set, makes VM specs name boot files (kernel, initrd,
	// disk) inside this node's image folders (--image-dir), and reads a disk
	// image's format once when its spec leaves it empty. Hosts that run real
	// guests read the files from the same paths (shared storage or the same
	// images on every host) and check them again before a start; nil (the sim
	// hypervisor, which opens no file) checks nothing.
	BootFiles *hostpath.Confiner
	// Consoles reaches VMs' serial consoles and logs (console.Router); nil
	// answers console requests with 409.
	Consoles Consoles
	// Images runs the image imports this node takes (diskstore.Manager);
	// nil answers imports with 503.
	Images ImageImporter
	// Events serves the event stream (eventlog.Journal); nil answers it
	// with 409. EventHeartbeat is how often an idle stream says how far it
	// has read; EventWriteLimit how long frames may wait to leave before
	// their reader, too slow or gone, is dropped (it resumes with ?after).
	Events          Events
	EventHeartbeat  time.Duration
	EventWriteLimit time.Duration
	// Metrics reads the metrics history of this node and the others
	// (sampler.History); nil answers metrics reads with 409. OldMetrics,
	// when set (PostgreSQL), reads what the hosts no longer keep.
	Metrics    MetricsHistory
	OldMetrics OldMetrics
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (--metrics-token-file); empty leaves /metrics open, as scrapers expect.
	MetricsToken string

	// PageLimit is how many items a list answers when the request sets no
	// ?limit; MaxPageLimit is the largest ?limit accepted.
	PageLimit    int
	MaxPageLimit int
	// MaxPageBytes ends a list page early once its encoding passes this many
	// bytes, so one answer stays bounded however large its items are.
	MaxPageBytes int64

	// The HTTP server's bounds (see HTTPServer and Listener): time to send the
	// headers, time to send the whole request with its body, time to write the
	// answer (above RequestTimeout, so a handler's own timeout answers first),
	// how long an idle keep-alive connection stays, the size of the headers,
	// and how many connections may be open at once.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxConns          int
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes: 1 << 20, MaxIndexWait: 10 * time.Second, RequestTimeout: 30 * time.Second,
		PlacementWait: 2 * time.Second, KeyUseEvery: fsm.TouchTokenEvery, AuditQueue: 10000, SessionTTL: 12 * time.Hour, MaxAuthStaleness: 2 * time.Second, PageLimit: 500, MaxPageLimit: 5000, MaxPageBytes: 4 << 20,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, MaxConns: 2048, EventHeartbeat: 15 * time.Second, EventWriteLimit: 10 * time.Second,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxIndexWait <= 0 {
		c.MaxIndexWait = d.MaxIndexWait
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxAuthStaleness <= 0 {
		c.MaxAuthStaleness = d.MaxAuthStaleness
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.AuditQueue == 0 {
		c.AuditQueue = d.AuditQueue
	}
	if c.KeyUseEvery == 0 {
		c.KeyUseEvery = d.KeyUseEvery
	}
	if c.PlacementWait == 0 {
		c.PlacementWait = d.PlacementWait
	}
	if c.MaxPageLimit <= 0 {
		c.MaxPageLimit = d.MaxPageLimit
	}
	if c.PageLimit <= 0 {
		c.PageLimit = min(d.PageLimit, c.MaxPageLimit)
	}
	if c.MaxPageBytes <= 0 {
		c.MaxPageBytes = d.MaxPageBytes
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.EventHeartbeat <= 0 {
		c.EventHeartbeat = d.EventHeartbeat
	}
	if c.EventWriteLimit <= 0 {
		c.EventWriteLimit = d.EventWriteLimit
	}
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	return c
}

// Cluster is what the API needs from the distributed core.
type Cluster interface {
	// Apply proposes cmd through Raft (forwarding to the leader if needed) and
	// returns the index it was applied at. A command the FSM refused returns the
	// FSM's error (matching the fsm sentinels with errors.Is). The API passes
	// pointers (*fsm.CreateVM, ...), so the leader may complete a command, such
	// as placing a new VM, before it is logged.
	Apply(ctx context.Context, cmd fsm.Command) (uint64, error)
	// ConsistentIndex returns an index that, once applied locally, makes a read
	// linearizable (read-index through the leader).
	ConsistentIndex(ctx context.Context) (uint64, error)
	// Status is this node's view of the cluster: leader, members, indexes.
	Status() cluster.Status
	// CaughtUp reports whether this node has applied everything the leader had
	// committed when it started (or later); until then its state may lack
	// recent writes, such as the token a client presents.
	CaughtUp() bool
	// CredentialIndex is the index this node must have applied before it
	// trusts its copy of tokens and sessions (a revocation committed by the
	// leader); an error when it has lost the leader and cannot ask.
	CredentialIndex(ctx context.Context, maxStale time.Duration) (uint64, error)
}

// Control is what the API asks of the leader's decisions (package control):
// dry runs decided on the leader's state, never on a follower's, which may lag.
type Control interface {
	// Rebalance is the leader's rebalancer status.
	Rebalance(ctx context.Context) (fsm.RebalanceStatus, error)
	// MigrationTarget is the node a migration of vmID in mode would go to:
	// target (a node ID) checked, or the scheduler's choice when empty.
	MigrationTarget(ctx context.Context, vmID, mode, target string) (string, error)
	// DrainPreview lists the VMs on a node, without a migration under way,
	// that no other node could take now, each with the reason.
	DrainPreview(ctx context.Context, nodeID string) ([]fsm.PlannedMove, error)
	// FailoverPlan is where each VM of a node would go if it died now.
	FailoverPlan(ctx context.Context, nodeID string) (fsm.FailoverPlan, error)
}

// State is the read side of the replicated state machine that the API uses;
// *fsm.FSM implements it.
type State interface {
	AppliedIndex() uint64
	WaitForIndex(ctx context.Context, index uint64) error
	Nodes() []fsm.Node
	Limits() fsm.NodeLimits
	Node(id string) (fsm.Node, error)
	NodeByName(name string) (fsm.Node, error)
	VMs() []fsm.VM
	VMPage(q fsm.VMPageQuery) []fsm.VM
	VMsOnNode(nodeID string) []fsm.VM
	VM(id string) (fsm.VM, error)
	// VMByName finds a VM by name in a project (the default one when empty).
	VMByName(project, name string) (fsm.VM, error)
	// Projects lists the projects by name; Project returns one with what its
	// VMs use.
	Projects() []fsm.Project
	Project(name string) (fsm.Project, fsm.Usage, error)
	// Users, their login sessions (login.go, users.go).
	Users() []fsm.User
	User(name string) (fsm.User, error)
	Session(id string) (fsm.Session, error)
	SessionByHash(hash string) (fsm.Session, error)
	Sessions(user string) []fsm.Session
	// Audit reads the audit log (audit.go).
	Audit(q fsm.AuditQuery) []fsm.AuditEntry
	// Bindings, custom roles: what authz builds a principal from.
	Bindings(user string, groups []string) map[string][]string
	Roles() []fsm.Role
	Role(name string) (fsm.Role, error)
	// VMCountsByNode counts each node's VMs without copying any.
	VMCountsByNode() map[string]int
	// IDsWithPrefix finds records by the start of their ID (id_prefix.go).
	IDsWithPrefix(kind, prefix string, max int) []string
	Tokens() []fsm.Token
	Token(id string) (fsm.Token, error)
	TokenByHash(hash string) (fsm.Token, error)
	Allocated(nodeID string) fsm.Capacity
	VMCountsByState() map[fsm.VMState]int
	Cluster() fsm.ClusterInfo
	JoinTokens() []fsm.JoinToken
	JoinToken(id string) (fsm.JoinToken, error)

	// The alerting state (fsm/query_alert.go).
	AlertRules() []fsm.AlertRule
	Alerts() []fsm.Alert
	Alert(id string) (fsm.Alert, error)
	Silences() []fsm.Silence
	AlertTargets() []fsm.AlertTarget

	// Migrations lists every migration record, newest first; ActiveMigrations
	// those not finished.
	Migrations() []fsm.Migration
	Migration(id string) (fsm.Migration, error)
	// MigrationsEnded counts the migrations this node saw end since it
	// started, by final state (/metrics).
	MigrationsEnded() map[fsm.MigrationState]uint64
	ActiveMigrations() []fsm.Migration
	// Failovers lists every failover record, newest first.
	Failovers() []fsm.Failover
	Failover(id string) (fsm.Failover, error)
	// Removals are the deleted VMs whose hosts have yet to confirm their
	// domains gone, oldest first; Removal one of them.
	Removals() []fsm.Removal
	Removal(vmID string) (fsm.Removal, bool)
	// Pools, images: the storage of VMs' volumes (storage.go).
	Pools() []fsm.StoragePool
	Pool(name string) (fsm.StoragePool, error)
	Images() []fsm.Image
	Image(id string) (fsm.Image, error)
	ImageByName(project, name string) (fsm.Image, error)
	// Volumes, the data volumes (volumes.go): every one by project and
	// name, one by ID or by name in a project, those attached to a VM by
	// target.
	Volumes() []fsm.Volume
	Volume(id string) (fsm.Volume, error)
	VolumeByName(project, name string) (fsm.Volume, error)
	VolumesOf(vmID string) []fsm.Volume
	// Digest fingerprints the whole state at its applied index.
	Digest() (fsm.Digest, error)
	// CheckMigration says why a VM cannot migrate to target in mode now (the
	// check Apply makes), so a refused request never reaches Raft.
	CheckMigration(vmID, mode, target string) error
	// CheckMovable is CheckMigration before a target is chosen.
	CheckMovable(vmID, mode string) error
	// Settings are the cluster settings with defaults filled in.
	Settings() fsm.Settings
	// Incoming is what each node holds for migrations coming in.
	Incoming() map[string]fsm.Capacity
	// GossipKeyring is the cluster's gossip keyring; CheckGossipKeyring says
	// why Apply would refuse a change to it.
	GossipKeyring() fsm.Keyring
	CheckGossipKeyring(cmd fsm.GossipKeyring) error
}

// Server is the HTTP API of one node.
type Server struct {
	cfg     Config
	cluster Cluster
	control Control
	state   State
	log     *slog.Logger
	router  *httprouter.Router
	// metrics holds this server's scrape-time gauges. It is not registered in the
	// global registry, so many servers can live in one process (tests).
	metrics *metrics.Set
	// eventStreams counts the event streams open on this node;
	// eventReadersDropped the readers dropped for taking too long.
	eventStreams        atomic.Int64
	eventReadersDropped *metrics.Counter
	// secured lists the authenticated routes and what they need, in
	// registration order: the API's permission table as data.
	secured []securedRoute
	// logins throttles failed logins and bounds the password checks running
	// at once; refreshing holds the credentials whose background write (a
	// session's refresh, a key's last use) is under way.
	logins     *loginGuard
	refreshing sync.Map
	auditor    auditor
}

// New builds the API server of a node. A nil logger means slog.Default().
func New(cfg Config, cl Cluster, ctl Control, st State, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg.withDefaults(),
		cluster: cl,
		control: ctl,
		state:   st,
		log:     logger.With("component", "api"),
		router:  httprouter.New(),
		metrics: metrics.NewSet(),
		logins:  newLoginGuard(),
	}
	s.router.HandleOPTIONS = false
	s.router.RedirectFixedPath = false
	s.router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errRouteNotFound)
	})
	s.router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errMethodNotAllowed)
	})
	s.router.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
		s.writeError(w, r, errPanic)
	}
	s.registerGauges()
	s.routes()
	return s
}

// routes is the whole API surface, each route with the permission it needs
// and where it is checked (scope.go).
func (s *Server) routes() {
	s.public("GET", "/healthz", s.healthz)
	s.router.Handle("GET", "/metrics", s.named("/metrics", s.serveMetrics))
	s.router.Handle("GET", "/api/v1/openapi.json", s.named("/api/v1/openapi.json", s.serveOpenAPI))

	s.route("GET", "/api/v1/cluster", authz.Read("cluster"), s.getCluster)
	s.route("GET", "/api/v1/cluster/digest", authz.Read("cluster"), s.getDigest)

	s.route("GET", "/api/v1/nodes", authz.Read("node"), s.listNodes)
	s.route("GET", "/api/v1/nodes/:id", authz.Read("node"), s.getNode)
	s.route("GET", "/api/v1/nodes/:id/metrics", authz.Read("node"), s.nodeMetrics)
	// The newest sample of each VM and node the caller may read.
	s.callerRoute("GET", "/api/v1/metrics/latest", s.latestMetrics)

	s.projectRoute("GET", "/api/v1/vms", authz.Read("vm"), s.listVMs)
	s.projectRoute("POST", "/api/v1/vms", authz.Write("vm"), s.createVM)
	s.objectRoute("GET", "/api/v1/vms/:id", authz.Read("vm"), vmObject, s.getVM)
	s.objectRoute("PUT", "/api/v1/vms/:id", authz.Write("vm"), vmObject, s.updateVM)
	s.objectRoute("DELETE", "/api/v1/vms/:id", authz.Write("vm"), vmObject, s.deleteVM)
	// The action "migrate" is POST /api/v1/vms/:id/migrate (see vmAction);
	// it also needs migration write in the VM's project. "volumes" and
	// "snapshots" attach a volume and take a snapshot (below).
	s.objectRoute("POST", "/api/v1/vms/:id/:action", authz.Write("vm"), vmObject, s.vmAction)
	s.streamRoute("GET", "/api/v1/vms/:id/console", authz.Write("vm"), vmObject, s.vmConsole)
	s.streamRoute("GET", "/api/v1/vms/:id/console/log", authz.Read("vm"), vmObject, s.vmConsoleLog)
	s.objectRoute("GET", "/api/v1/vms/:id/metrics", authz.Read("vm"), vmObject, s.vmMetrics)

	// Lists show what the caller may read: every project's for a cluster
	// role, its projects' otherwise.
	s.route("GET", "/api/v1/storage/pools", authz.Read("pool"), s.listPools)
	s.route("POST", "/api/v1/storage/pools", authz.Write("pool"), s.createPool)
	s.route("DELETE", "/api/v1/storage/pools/:name", authz.Write("pool"), s.deletePool)
	s.callerRoute("GET", "/api/v1/images", s.listImages)
	s.projectRoute("POST", "/api/v1/images", authz.Write("image"), s.importImage)
	s.objectRoute("GET", "/api/v1/images/:id", authz.Read("image"), imageObject, s.getImage)
	s.objectRoute("DELETE", "/api/v1/images/:id", authz.Write("image"), imageObject, s.deleteImage)
	// Volumes: an attach is POST /api/v1/vms/:id/volumes (see vmAction),
	// which also needs volume write on the volume.
	s.callerRoute("GET", "/api/v1/volumes", s.listVolumes)
	s.projectRoute("POST", "/api/v1/volumes", authz.Write("volume"), s.createVolume)
	s.objectRoute("GET", "/api/v1/volumes/:id", authz.Read("volume"), volumeObject, s.getVolume)
	s.objectRoute("PATCH", "/api/v1/volumes/:id", authz.Write("volume"), volumeObject, s.resizeVolume)
	s.objectRoute("DELETE", "/api/v1/volumes/:id", authz.Write("volume"), volumeObject, s.deleteVolume)
	s.objectRoute("GET", "/api/v1/vms/:id/volumes", authz.Read("vm"), vmObject, s.listVMVolumes)
	s.objectRoute("DELETE", "/api/v1/vms/:id/volumes/:volume", authz.Write("vm"), vmObject, s.detachVolume)
	// Snapshots: a create is POST /api/v1/vms/:id/snapshots (see vmAction),
	// a revert POST /api/v1/vms/:id/snapshots/:name/revert, which httprouter
	// holds only as /vms/:id/:action/:name/revert (revertVMSnapshot).
	s.objectRoute("GET", "/api/v1/vms/:id/snapshots", authz.Read("vm"), vmObject, s.listVMSnapshots)
	s.objectRoute("GET", "/api/v1/vms/:id/snapshots/:name", authz.Read("vm"), vmObject, s.getVMSnapshot)
	s.objectRoute("POST", "/api/v1/vms/:id/:action/:name/revert", authz.Write("vm"), vmObject, s.revertVMSnapshot)
	s.objectRoute("DELETE", "/api/v1/vms/:id/snapshots/:name", authz.Write("vm"), vmObject, s.deleteVMSnapshot)
	// Every caller may follow the events; each sees those it may read.
	s.securedRoute("GET", "/api/v1/events", perm{}, scopeCaller, nil, nil, s.streamEvents)
	s.callerRoute("GET", "/api/v1/operations", s.listOperations)
	s.callerRoute("GET", "/api/v1/operations/:id", s.getOperation)
	s.callerRoute("DELETE", "/api/v1/operations/:id", s.cancelOperation)
	s.callerRoute("GET", "/api/v1/migrations", s.listMigrations)
	s.objectRoute("GET", "/api/v1/migrations/:id", authz.Read("migration"), migrationObject, s.getMigration)
	s.objectRoute("POST", "/api/v1/migrations/:id/cancel", authz.Write("migration"), migrationObject, s.cancelMigration)
	s.callerRoute("GET", "/api/v1/alerts", s.listAlerts)
	s.objectRoute("GET", "/api/v1/alerts/:id", authz.Read("alert"), alertObject, s.getAlert)
	s.objectRoute("POST", "/api/v1/alerts/:id/ack", authz.Write("alert"), alertObject, s.ackAlert)
	s.route("GET", "/api/v1/alert-rules", authz.Read("alert"), s.listAlertRules)
	s.route("POST", "/api/v1/alert-rules", authz.Write("alert"), s.putAlertRule)
	s.route("DELETE", "/api/v1/alert-rules/:name", authz.Write("alert"), s.deleteAlertRule)
	s.route("GET", "/api/v1/silences", authz.Read("alert"), s.listSilences)
	s.route("POST", "/api/v1/silences", authz.Write("alert"), s.createSilence)
	s.route("DELETE", "/api/v1/silences/:id", authz.Write("alert"), s.deleteSilence)
	// A target's URL is fetched and its secret kept: cluster settings.
	s.route("GET", "/api/v1/alert-targets", authz.Read("settings"), s.listAlertTargets)
	s.route("POST", "/api/v1/alert-targets", authz.Write("settings"), s.putAlertTarget)
	s.route("DELETE", "/api/v1/alert-targets/:name", authz.Write("settings"), s.deleteAlertTarget)
	s.route("GET", "/api/v1/failovers", authz.Read("failover"), s.listFailovers)
	s.route("GET", "/api/v1/failovers/:id", authz.Read("failover"), s.getFailover)
	s.public("POST", "/api/v1/login", s.login)
	s.public("POST", "/api/v1/login/oidc", s.loginOIDC)
	s.public("GET", "/api/v1/auth/oidc", s.oidcConfig)
	// Every caller may log out, see itself, and list and end its own
	// sessions; the handlers let a user admin reach other users' too.
	s.callerRoute("POST", "/api/v1/logout", s.logout)
	s.callerRoute("GET", "/api/v1/whoami", s.whoami)
	s.callerRoute("GET", "/api/v1/auth/can-i", s.canI)
	s.callerRoute("GET", "/api/v1/sessions", s.listSessions)
	s.callerRoute("DELETE", "/api/v1/sessions/:id", s.deleteSession)
	s.route("GET", "/api/v1/users", authz.Read("user"), s.listUsers)
	s.route("POST", "/api/v1/users", authz.Write("user"), s.createUser)
	s.route("GET", "/api/v1/users/:name", authz.Read("user"), s.getUser)
	s.route("PUT", "/api/v1/users/:name", authz.Write("user"), s.updateUser)
	s.route("DELETE", "/api/v1/users/:name", authz.Write("user"), s.deleteUser)
	s.callerRoute("GET", "/api/v1/roles", s.listRoles)
	s.callerRoute("GET", "/api/v1/roles/:name", s.getRole)
	s.route("POST", "/api/v1/roles", authz.Write("role"), s.createRole)
	s.route("DELETE", "/api/v1/roles/:name", authz.Write("role"), s.deleteRole)
	s.callerRoute("GET", "/api/v1/projects", s.listProjects)
	s.route("POST", "/api/v1/projects", authz.Write("project"), s.createProject)
	s.objectRoute("GET", "/api/v1/projects/:name", authz.Read("project"), projectObject, s.getProject)
	// A project's quota is the cluster's to set: its own admins may not.
	s.route("PUT", "/api/v1/projects/:name", authz.Write("project"), s.updateProject)
	s.route("DELETE", "/api/v1/projects/:name", authz.Write("project"), s.deleteProject)
	s.objectRoute("GET", "/api/v1/projects/:name/members", authz.Read("member"), projectObject, s.listMembers)
	s.objectRoute("POST", "/api/v1/projects/:name/members", authz.Write("member"), projectObject, s.setMember)
	s.objectRoute("DELETE", "/api/v1/projects/:name/members/:subject", authz.Write("member"), projectObject, s.removeMember)
	s.callerRoute("GET", "/api/v1/audit", s.listAudit)
	s.callerRoute("GET", "/api/v1/removals", s.listRemovals)
	s.objectRoute("GET", "/api/v1/removals/:id", authz.Read("vm"), removalObject, s.getRemoval)

	s.route("GET", "/api/v1/nodes/:id/drain", authz.Read("node"), s.getDrain)
	s.route("POST", "/api/v1/nodes/:id/drain", authz.Write("node"), s.drainNode)
	s.route("POST", "/api/v1/nodes/:id/undrain", authz.Write("node"), s.undrainNode)
	s.route("POST", "/api/v1/nodes/:id/labels", authz.Write("node"), s.setNodeLabels)
	s.route("GET", "/api/v1/nodes/:id/failover-plan", authz.Read("node"), s.failoverPlan)

	s.route("GET", "/api/v1/settings", authz.Read("settings"), s.getSettings)
	s.route("PUT", "/api/v1/settings", authz.Write("settings"), s.putSettings)
	s.route("GET", "/api/v1/rebalance", authz.Read("cluster"), s.getRebalance)

	// API keys: every user makes, lists and revokes its own (no stronger
	// than itself); token read and write in the cluster reach everyone's.
	// /api/v1/tokens/self is the caller's own credential.
	s.callerRoute("GET", "/api/v1/tokens", s.listTokens)
	s.callerRoute("POST", "/api/v1/tokens", s.createToken)
	s.callerRoute("GET", "/api/v1/tokens/:id", s.getToken)
	s.callerRoute("DELETE", "/api/v1/tokens/:id", s.revokeToken)

	s.route("GET", "/api/v1/join-tokens", authz.Read("token"), s.listJoinTokens)
	s.route("POST", "/api/v1/join-tokens", authz.Write("token"), s.createJoinToken)
	s.route("DELETE", "/api/v1/join-tokens/:id", authz.Write("token"), s.revokeJoinToken)
	// A new host has no API token: its join token is its credential.
	s.public("GET", "/api/v1/enroll/ca", s.enrollCA)
	s.public("POST", "/api/v1/enroll", s.enrollHost)

	// The listing shows the keys: cluster admins only (the "operator"
	// resource is in no other built-in role).
	s.route("GET", "/api/v1/operator/gossip/keyring", authz.Read("operator"), s.getGossipKeyring)
	s.route("POST", "/api/v1/operator/gossip/keyring", authz.Write("operator"), s.changeGossipKeyring)
}

// Handler returns the http.Handler serving the whole API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// reqInfo is filled in while a request is routed, for the access log and metrics.
type reqInfo struct {
	route string
	// Who asked, through what, in which project, about which object, and
	// the error answered: for the audit log (audit.go).
	actor, via, project, object, message string
	// verb is a VM action's name (stop, start), recorded in place of the
	// route's :action.
	verb string
	// audited records a request that changes nothing but is recorded all
	// the same: a console session (what is typed runs in the guest).
	audited bool
}

type reqInfoKey struct{}

// serveHTTP wraps the router: it stamps the applied index on every response
// (handlers overwrite it after a write) and records the request's duration by
// route pattern, so raw IDs never become metric labels.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &reqInfo{route: "unmatched"}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set(IndexHeader, formatIndex(s.state.AppliedIndex()))
	s.router.ServeHTTP(rec, r)
	code := rec.status
	if code == 0 {
		code = http.StatusOK
	}
	observeRequest(info.route, r.Method, code, start)
	s.auditRequest(r, info, code, rec.Header().Get(IndexHeader))
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", info.route,
		"status", code, "duration", time.Since(start), "remote", r.RemoteAddr)
}

// named records the route pattern of a request for metrics and logs.
func (s *Server) named(pattern string, h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		nameRoute(r, pattern)
		h(w, r, ps)
	}
}

// nameRoute sets the route pattern recorded for r; a handler that serves more
// than one logical route under one pattern names the one it serves.
func nameRoute(r *http.Request, pattern string) {
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.route = pattern
	}
}

// statusRecorder remembers the status code written, for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
