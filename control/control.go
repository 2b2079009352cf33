// Package control is the leader's decisions: every loop that runs only on the
// leader (placement of pending VMs, failover of dead hosts, migration
// admission and drains, rebalancing with the hosts' load, retention of the
// history and reaping of long-gone nodes), and the dry runs
// that other nodes ask the leader for (where a migration without a target
// would go, which VMs a drain could not move, a node's failover plan).
//
// The consensus core (package cluster) runs RunLeader after it has
// established leadership and stops it, by ending its context, when
// leadership is lost. Control decides through the pure scheduler and writes
// its decisions as fsm commands; it never touches a hypervisor.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/peeruri"
	"github.com/novacron/novacron/lease"
	"github.com/novacron/novacron/scheduler"
)

// Config tunes the leader's loops.
type Config struct {
	// NodeID and NodeName are this node's, named in the rebalancer status.
	NodeID   string
	NodeName string
	// ResyncInterval is how often the leader's loops look at everything,
	// beside reacting to changes.
	ResyncInterval time.Duration
	// LoadReportInterval is how often hosts report their load; a report is
	// stale after three of them.
	LoadReportInterval time.Duration
	// RetentionInterval is how often the leader removes the history past the
	// cluster's retention settings.
	RetentionInterval time.Duration
	// Lease is the fencing lease's timing, by which failover judges hosts.
	Lease lease.Timing
	// PeerURIs judges live migration targets by the URIs they publish
	// (peer_uri.go).
	PeerURIs peeruri.Policy
	Logger   *slog.Logger
}

// DefaultConfig returns production timings; the caller fills in the node.
func DefaultConfig() Config {
	return Config{ResyncInterval: 10 * time.Second, LoadReportInterval: 10 * time.Second, RetentionInterval: time.Minute, Lease: lease.DefaultTiming(), Logger: slog.Default()}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.ResyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("leader resync interval must be positive, got %v", c.ResyncInterval))
	}
	if c.LoadReportInterval <= 0 {
		errs = append(errs, fmt.Errorf("load report interval must be positive, got %v", c.LoadReportInterval))
	}
	if c.RetentionInterval <= 0 {
		errs = append(errs, fmt.Errorf("retention interval must be positive, got %v", c.RetentionInterval))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// Cluster is what the leader's loops need from the consensus core
// (*cluster.Agent).
type Cluster interface {
	// Apply proposes cmd through Raft and returns its index or the FSM's error.
	Apply(ctx context.Context, cmd fsm.Command) (uint64, error)
	// ApplyInBatches writes many commands in few log entries.
	ApplyInBatches(ctx context.Context, cmds []fsm.Command)
	// IsLeader reports whether this node leads now.
	IsLeader() bool
	// LeaseSeen is when the leader last heard from a host, or became leader.
	LeaseSeen(node string) (seen, renewal time.Time)
	// CallLeader makes an internal JSON call to the leader's route.
	CallLeader(ctx context.Context, method, path string, body, out any) error
}

// State is the read side of the cluster state the leader decides on;
// *fsm.FSM implements it.
type State interface {
	scheduler.State
	Subscribe(buffer int) (<-chan fsm.Event, func())
	Node(id string) (fsm.Node, error)
	VM(id string) (fsm.VM, error)
	VMsOnNode(nodeID string) []fsm.VM
	PendingVMs() []fsm.VM
	NodeReservations() ([]fsm.Node, map[string]fsm.Capacity, fsm.Settings)
	// PendingVMsExcept and CapacityEpoch let the placement loop decide
	// only new pending VMs while nothing could have made room (placement.go).
	PendingVMsExcept(skip map[string]struct{}) []fsm.VM
	CapacityEpoch() uint64
	MaintenanceNodes() []fsm.Node
	ActiveMigrations() []fsm.Migration
	ActiveFailovers() []fsm.Failover
	Failover(id string) (fsm.Failover, error)
	CheckMigration(vmID, mode, target string) error
	CheckMovable(vmID, mode string) error
	// Migrations, Failovers (newest first) and Tokens are the whole history,
	// which the retention loop bounds.
	Migrations() []fsm.Migration
	Failovers() []fsm.Failover
	Tokens() []fsm.Token
}

// Controller is the leader's control of the cluster. Every node has one: its
// loops run only while the node leads, and its dry runs ask the leader.
type Controller struct {
	cfg     Config
	cluster Cluster
	state   State
	logger  *slog.Logger

	// loads and rebalancer are the leader's in-memory rebalancing state.
	loads      *loadTracker
	rebalancer *rebalancer
	// inflight is what the creates placed but not yet applied reserve
	// (create_placement.go).
	inflight inflight
	// extra are the loops others run while this node leads (AddLeaderLoop).
	extra []func(context.Context)
}

// New makes a node's controller.
func New(cfg Config, cl Cluster, st State) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Controller{
		cfg: cfg, cluster: cl, state: st,
		logger: cfg.Logger.With("component", "leader", "node", cfg.NodeName),
		loads:  newLoadTracker(), rebalancer: &rebalancer{},
		inflight: inflight{reserved: map[string]fsm.Capacity{}},
	}, nil
}

// AddLeaderLoop adds a loop that runs while this node leads, beside the
// controller's own (the PostgreSQL export, the alert rules); call it before
// the node starts.
func (c *Controller) AddLeaderLoop(loop func(context.Context)) {
	c.extra = append(c.extra, loop)
}

// RunLeader runs the leader's loops until ctx ends (leadership lost).
func (c *Controller) RunLeader(ctx context.Context) {
	var wg sync.WaitGroup
	loops := []func(context.Context){c.placementLoop, c.migrationLoop, c.rebalanceLoop, c.failoverLoop, c.fleetLoop, c.retentionLoop}
	for _, loop := range append(loops, c.extra...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// Routes are the internal routes the leader answers for other nodes, by
// pattern; the consensus core serves them, leader-only and authenticated.
func (c *Controller) Routes() map[string]func(*http.Request) (any, error) {
	return map[string]func(*http.Request) (any, error){
		"POST /internal/v1/load":           c.serveLoad,
		"GET /internal/v1/rebalance":       c.serveRebalance,
		"POST /internal/v1/plan/migration": c.serveMigrationTarget,
		"POST /internal/v1/plan/drain":     c.serveDrainPreview,
		"POST /internal/v1/plan/failover":  c.serveFailoverPlan,
	}
}

// maxBody bounds an internal request body.
const maxBody = 2 << 20

// decodeBody reads an internal call's JSON body into v; an unreadable one is
// fsm.ErrMalformed.
func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		return fmt.Errorf("%w: unreadable body: %v", fsm.ErrMalformed, err)
	}
	return nil
}

// applyLogged applies cmd and logs a failure; it reports success.
func (c *Controller) applyLogged(ctx context.Context, cmd fsm.Command) bool {
	_, err := c.cluster.Apply(ctx, cmd)
	if err != nil && ctx.Err() == nil && !errors.Is(err, fsm.ErrState) {
		c.logger.Warn("leader write failed", "command", cmd.Type(), "error", err)
	}
	return err == nil
}
