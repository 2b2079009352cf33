// Package host is the agent's work on its own host: the reconciler that makes
// the local hypervisor run what the cluster state assigns to this node, the
// host's part of migrations (and their settling after a restart), the fencing
// lease with the leader, fencing and the watchdog, and load reporting.
//
// It reaches the cluster only through the narrow interfaces it declares
// (Cluster, State, LoadSink): a write, a catch-up, a lease renewal, reads of
// the local state. Nothing here decides placement; the leader does (package
// control), and the host carries the decisions out.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/guard"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/peeruri"
	"github.com/novacron/novacron/lease"
)

// Config tunes the host agent.
type Config struct {
	// NodeID and NodeName are this node's.
	NodeID   string
	NodeName string
	// ResyncInterval is how often the reconciler compares everything, beside
	// reacting to events.
	ResyncInterval time.Duration
	// StopTimeout is how long a guest gets to shut down before it is destroyed.
	StopTimeout time.Duration
	// MigrationProgressInterval is how often a running migration's progress
	// is written to Raft.
	MigrationProgressInterval time.Duration
	// LoadReportInterval is how often the host sends its load to the leader.
	LoadReportInterval time.Duration
	// ReportGather is the least time between two reports of what the host
	// observed of its VMs, so that a burst shares one entry (reconciler.go).
	// The first report after a quiet spell goes at once.
	ReportGather time.Duration
	// Lease is the fencing lease's timing.
	Lease lease.Timing
	// Watchdog is a watchdog device (/dev/watchdog, softdog) petted while the
	// host is safe (see hostLease.safe); empty for none. With a guard, the
	// guard pets it.
	Watchdog string
	// Guard runs the fencing guard beside the agent (see guard.go).
	Guard GuardConfig
	// BootFiles, when set, confines the files a VM boots from to the
	// allowed image folders before its domain is started (bootfiles.go);
	// nil for drivers that open no host file (sim).
	BootFiles BootFiles
	// Disks keeps the VMs' volumes as files (volumes.go); nil for drivers
	// that open no host file (sim): their VMs' volumes exist only as records.
	Disks Disks
	// PeerURIs judges the URIs a migration's target node publishes before
	// this host hands them to its hypervisor (migrator.checkTarget).
	PeerURIs peeruri.Policy
	Logger   *slog.Logger
}

// DefaultConfig returns production timings; the caller fills in the node.
func DefaultConfig() Config {
	return Config{
		ResyncInterval: 10 * time.Second, StopTimeout: 30 * time.Second,
		MigrationProgressInterval: time.Second, LoadReportInterval: 10 * time.Second, ReportGather: 100 * time.Millisecond,
		Lease: lease.DefaultTiming(), Logger: slog.Default(),
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if err := c.Lease.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{{"host resync", c.ResyncInterval}, {"load report", c.LoadReportInterval}, {"migration progress", c.MigrationProgressInterval}} {
		if iv.d <= 0 {
			errs = append(errs, fmt.Errorf("%s interval must be positive, got %v", iv.name, iv.d))
		}
	}
	if err := c.PeerURIs.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// Cluster is what the host needs from the consensus core (*cluster.Agent).
type Cluster interface {
	// Apply proposes cmd through Raft and returns its index or the FSM's error.
	Apply(ctx context.Context, cmd fsm.Command) (uint64, error)
	// CatchUp waits, at most timeout, until the local state holds what the
	// leader had committed; WaitCaughtUp retries it until ctx ends.
	CatchUp(ctx context.Context, timeout time.Duration) error
	WaitCaughtUp(ctx context.Context) bool
	// RenewLease renews this host's fencing lease with the leader.
	RenewLease(ctx context.Context) error
}

// State is the read side of the local cluster state; *fsm.FSM implements it.
type State interface {
	Subscribe(buffer int) (<-chan fsm.Event, func())
	WaitForIndex(ctx context.Context, index uint64) error
	Node(id string) (fsm.Node, error)
	VM(id string) (fsm.VM, error)
	VMsOnNode(nodeID string) []fsm.VM
	ActiveMigrations() []fsm.Migration
	Migration(id string) (fsm.Migration, error)
	// RemovalsOnNode lists the deleted VMs whose domains a node has yet to
	// confirm gone (removals.go).
	RemovalsOnNode(nodeID string) []fsm.Removal
	// Pools, Pool and Image read the storage a VM's volumes need.
	Pools() []fsm.StoragePool
	Pool(name string) (fsm.StoragePool, error)
	Image(id string) (fsm.Image, error)
	// VolumesToSettle, Volume and VolumesOf read the data volumes
	// (data_volumes.go).
	VolumesToSettle(node string) []fsm.Volume
	Volume(id string) (fsm.Volume, error)
	VolumesOf(vmID string) []fsm.Volume
}

// LoadSink takes the host's load reports to the leader (*control.Controller).
type LoadSink interface {
	ReportLoad(ctx context.Context, r fsm.LoadReport) error
}

// Host is one node's host agent: its own reconciler, and those of the sim
// fleet hosts it runs, under one fencing lease.
type Host struct {
	cfg     Config
	cluster Cluster
	state   State
	loads   LoadSink
	driver  hypervisor.Driver
	logger  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	lease    *hostLease
	watchdog *guard.Watchdog
	// guard is the fencing guard process; nil without one.
	guard *guardLink
	// mu guards reconcilers: this node's and its fleet hosts'.
	mu          sync.Mutex
	reconcilers []*hostReconciler
}

// New makes the host agent and opens the watchdog device, if any. Start runs it.
func New(cfg Config, cl Cluster, st State, loads LoadSink, driver hypervisor.Driver) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var gl *guardLink
	wdPath := cfg.Watchdog
	if cfg.Guard.Exe != "" {
		var err error
		if gl, err = startGuard(cfg.Guard, cfg.Watchdog); err != nil {
			return nil, err
		}
		wdPath = "" // the guard holds the device: it outlives a hung agent
	}
	wd, err := guard.OpenWatchdog(wdPath)
	if err != nil {
		if gl != nil {
			gl.stop()
		}
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{
		cfg: cfg, cluster: cl, state: st, loads: loads, driver: driver,
		logger: cfg.Logger.With("component", "host", "node", cfg.NodeName),
		ctx:    ctx, cancel: cancel, lease: newHostLease(), watchdog: wd, guard: gl,
	}, nil
}

// Start runs the host's reconciler, its lease renewal, the fence watcher and
// load reporting.
func (a *Host) Start() {
	a.goLoop(a.addReconciler(newHostReconciler(a, a.cfg.NodeID, a.cfg.NodeName, a.driver)).run)
	a.goLoop(a.leaseLoop)
	a.goLoop(a.fenceLoop)
	a.goLoop(a.loadReportLoop)
}

// RunFleetHost runs the reconciler of a simulated fleet host (package fleet)
// under this host's lease: events are the state changes that concern it,
// routed by the fleet; the fleet has caught up already.
func (a *Host) RunFleetHost(nodeID, name string, driver hypervisor.Driver, events <-chan fsm.Event) {
	r := newHostReconciler(a, nodeID, name, driver)
	r.events, r.caughtUp = events, true
	a.goLoop(a.addReconciler(r).run)
}

// Shutdown stops every loop, stops the guard and disarms the watchdog. The
// domains keep running: a restarted agent re-attaches to them.
func (a *Host) Shutdown() {
	a.cancel()
	a.wg.Wait()
	if a.guard != nil {
		a.guard.stop()
	}
	a.watchdog.Disarm()
}

// Guarded reports whether a fencing guard runs beside this agent, and its
// lease file.
func (a *Host) Guarded() (bool, string) {
	if a.guard == nil {
		return false, ""
	}
	return true, a.guard.cfg.LeasePath
}

// LeaseValid reports whether this host holds its lease now (it may run HA VMs).
func (a *Host) LeaseValid() bool { return a.lease.valid() }

// Fenced reports whether a fence holds now.
func (a *Host) Fenced() bool { return a.lease.isFenced() }

func (a *Host) goLoop(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// addReconciler registers a reconciler (for fencing) and returns it.
func (a *Host) addReconciler(r *hostReconciler) *hostReconciler {
	a.mu.Lock()
	a.reconcilers = append(a.reconcilers, r)
	a.mu.Unlock()
	return r
}

// hosts returns this agent's reconcilers: its own and its fleet's.
func (a *Host) hosts() []*hostReconciler {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*hostReconciler(nil), a.reconcilers...)
}
