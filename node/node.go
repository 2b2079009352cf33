// Package node assembles one NovaCron node from its parts: the consensus core
// (package cluster), the leader's control (package control), the host agent
// (package host) and its simulated fleet (package fleet). It is the one place,
// beside cmd/novacron, where their concrete types meet: cmd/novacron builds a
// Node from the user's configuration, and in-process cluster tests build many.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/novacron/novacron/alerting"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/console"
	"github.com/novacron/novacron/control"
	"github.com/novacron/novacron/diskstore"
	"github.com/novacron/novacron/fleet"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/host"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/lease"
	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/sampler"
)

// Config is every part's configuration. The fencing lease and the node's
// identity are set once here and handed to every part that needs them.
type Config struct {
	Cluster cluster.Config
	Control control.Config
	Host    host.Config
	Fleet   fleet.Config
	// VCPUs, when > 0, is the number of vCPUs this host offers to VMs instead
	// of the CPU count the driver reports (an operator's over-commit).
	VCPUs int
	// MemoryMiB, when > 0, is the memory this host offers to VMs instead of
	// all of it (leave room for the host itself).
	MemoryMiB int64
	// DataDir, when set, keeps this host's storage pools (dir pools without
	// a path live in DataDir/pools): the node then runs image imports and
	// copies and makes its VMs' volumes (package diskstore). Empty keeps no
	// disks (in-process tests).
	DataDir string
	// ImageFiles confines the files images are imported from to the
	// allowed image folders; nil imports no file.
	ImageFiles diskstore.Files
	// MetricsInterval is how often the host samples itself and its VMs
	// into its metrics history (in DataDir; sampler.DefaultInterval when 0).
	MetricsInterval time.Duration
	// AlertMail is how the leader mails alert notifications.
	AlertMail alerting.Mail
	// PostgresDSN, when set, keeps PostgreSQL up to date: the leader
	// exports the event stream and the objects, this host its metrics.
	PostgresDSN string
}

// DefaultConfig returns production settings; the caller fills in identity
// and addresses (in Cluster).
func DefaultConfig() Config {
	return Config{Cluster: cluster.DefaultConfig(), Control: control.DefaultConfig(), Host: host.DefaultConfig()}
}

// TestConfig returns short timings for in-process clusters on loopback.
func TestConfig() Config {
	c := DefaultConfig()
	c.Cluster = cluster.TestConfig()
	c.Control.ResyncInterval = 500 * time.Millisecond
	c.Control.LoadReportInterval = 500 * time.Millisecond
	c.Control.RetentionInterval = 500 * time.Millisecond
	c.Host.ResyncInterval = 1 * time.Second
	c.Host.StopTimeout = 2 * time.Second
	c.Host.LoadReportInterval = 500 * time.Millisecond
	c.Host.MigrationProgressInterval = 200 * time.Millisecond
	return c
}

// SetLease sets the fencing lease's timing for every part at once.
func (c *Config) SetLease(t lease.Timing) {
	c.Cluster.Lease, c.Control.Lease, c.Host.Lease = t, t, t
}

// Validate checks every part's configuration, after copying the node's
// identity, logger and lease into each: each rule is checked once, by the
// part that owns it.
func (c *Config) Validate() error {
	cl := &c.Cluster
	if cl.Logger == nil {
		cl.Logger = slog.Default()
	}
	c.Control.NodeID, c.Control.NodeName, c.Control.Logger, c.Control.Lease = cl.NodeID, cl.NodeName, cl.Logger, cl.Lease
	c.Host.NodeID, c.Host.NodeName, c.Host.Logger, c.Host.Lease = cl.NodeID, cl.NodeName, cl.Logger, cl.Lease
	// One peer URI policy: the leader's choice of migration targets and the
	// source host's own check must agree.
	c.Control.PeerURIs, c.Host.PeerURIs = cl.PeerURIs, cl.PeerURIs
	c.Fleet.NodeID, c.Fleet.NodeName, c.Fleet.Version, c.Fleet.Logger = cl.NodeID, cl.NodeName, cl.Version, cl.Logger
	c.Control.LoadReportInterval = c.Host.LoadReportInterval
	return errors.Join(cl.Validate(), c.Control.Validate(), c.Host.Validate(), c.Fleet.Validate())
}

// Node is one running node.
type Node struct {
	Agent   *cluster.Agent
	Control *control.Controller
	Host    *host.Host
	// Images runs this node's image imports and copies; nil without a
	// DataDir.
	Images *diskstore.Manager
	// Consoles reaches VMs' serial consoles here and on other nodes.
	Consoles *console.Router
	// Metrics reads the metrics history here and on other nodes; this
	// node keeps one only with a DataDir.
	Metrics *sampler.History

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	pg       *pgExport
	stopOnce sync.Once
}

// Start builds and starts a node over its Raft stores and its hypervisor.
// The caller serves InternalHandler on the node's HTTP listener.
func Start(cfg Config, stores cluster.Stores, driver hypervisor.Driver) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	capa, err := driver.Capacity(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read host capacity from %s driver: %w", driver.Name(), err)
	}
	if cfg.VCPUs > 0 {
		capa.VCPUs = cfg.VCPUs
	}
	if cfg.MemoryMiB > 0 {
		capa.MemoryMiB = cfg.MemoryMiB
	}
	info := &cfg.Cluster.Node
	info.VCPUs, info.MemoryMiB, info.DiskGiB = capa.VCPUs, capa.MemoryMiB, capa.DiskGiB
	// The hypervisor's labels, with the agent's own (--label) over them.
	labels := driver.Labels()
	if labels == nil && len(info.Labels) > 0 {
		labels = map[string]string{}
	}
	maps.Copy(labels, info.Labels)
	info.Driver, info.Labels, info.Networks = driver.Name(), labels, capa.Networks
	if info.URI == "" {
		// Where the driver itself connects, unless the caller says what
		// other hosts use (--libvirt-peer-uri).
		info.URI = driver.URI()
	}

	agent, err := cluster.New(cfg.Cluster, stores)
	if err != nil {
		return nil, err
	}
	var disks *diskstore.Manager
	if cfg.DataDir != "" {
		disks = diskstore.NewManager(diskstore.Config{Store: diskstore.New(cfg.DataDir), NodeID: cfg.Cluster.NodeID,
			Cluster: agent, Peers: agent, State: agent.FSM(), Files: cfg.ImageFiles, URLSetting: "settings images.url_allow", Logger: cfg.Cluster.Logger})
		cfg.Host.Disks = disks
		agent.HandlePeer("GET "+diskstore.ImagePathPrefix+"{id}", disks)
		agent.HandlePeer("GET "+diskstore.MigrationPathPrefix+"{id}/{file}", http.HandlerFunc(disks.ServeMigrationDisk))
	}
	history := &sampler.History{Self: cfg.Cluster.NodeID, Peers: agent}
	var smp *sampler.Sampler
	if cfg.DataDir != "" {
		store, err := metricstore.Open(filepath.Join(cfg.DataDir, "metrics"), metricstore.Options{Logger: cfg.Cluster.Logger})
		if err != nil {
			agent.Shutdown()
			return nil, fmt.Errorf("metrics history: %w", err)
		}
		history.Local = store
		sc := sampler.Config{NodeID: cfg.Cluster.NodeID, NodeName: cfg.Cluster.NodeName, Store: store, VMs: agent.FSM(),
			Interval: cfg.MetricsInterval, DataDir: cfg.DataDir, Logger: cfg.Cluster.Logger}
		if sr, ok := driver.(hypervisor.StatsReader); ok {
			sc.Stats = sr
		}
		smp = sampler.New(sc)
	}
	agent.HandlePeer("GET "+sampler.PathPrefix+"{kind}/{id}", history)
	agent.HandlePeer("GET "+sampler.LatestPath, http.HandlerFunc(history.ServeLatest))
	consoles := &console.Router{Self: cfg.Cluster.NodeID, Peers: agent}
	if local, ok := driver.(console.Local); ok {
		consoles.Local = local
	}
	for _, pattern := range console.Routes() {
		agent.HandlePeer(pattern, &console.Handler{Local: consoles.Local})
	}
	ctl, err := control.New(cfg.Control, agent, agent.FSM())
	if err == nil {
		for pattern, fn := range ctl.Routes() {
			agent.HandleInternal(pattern, fn)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var pg *pgExport
	var pgWG sync.WaitGroup
	if err == nil && cfg.PostgresDSN != "" {
		pg = startPGExport(ctx, &pgWG, cfg.PostgresDSN, cfg.Cluster.NodeID, agent, history.Local, cfg.DataDir, cfg.Cluster.Logger)
		ctl.AddLeaderLoop(pg.runLeader)
	}
	if err == nil {
		// The alert rules run on the leader, beside its other loops.
		ac := alerting.Config{State: agent.FSM(), Cluster: agent, Latest: latestSamples(agent.FSM(), history),
			ClusterID: func() string { return agent.FSM().Cluster().ID }, Mail: cfg.AlertMail, Logger: cfg.Cluster.Logger}
		if pg != nil {
			ac.Export = pg.status
		}
		ctl.AddLeaderLoop(alerting.New(ac).Run)
	}
	var hst *host.Host
	if err == nil {
		hst, err = host.New(cfg.Host, agent, agent.FSM(), ctl, driver)
	}
	if err != nil {
		cancel()
		pgWG.Wait()
		if smp != nil {
			smp.Close()
			history.Local.Close()
		}
		agent.Shutdown()
		return nil, err
	}
	agent.Start(ctl)
	hst.Start()
	n := &Node{Agent: agent, Control: ctl, Host: hst, Images: disks, Consoles: consoles, Metrics: history, cancel: cancel, pg: pg}
	if pg != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			pgWG.Wait()
		}()
	}
	if smp != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			smp.Run(ctx)
		}()
	}
	if disks != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if agent.WaitCaughtUp(ctx) {
				disks.FailStale()
			}
		}()
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fleet.Run(ctx, cfg.Fleet, agent, agent.FSM(), hst)
	}()
	return n, nil
}

// latestSamples reads the newest samples of every host that is up, for
// the metric rules: a host that does not answer is left out (its VMs'
// alerts keep their state only if no host answers at all).
func latestSamples(st *fsm.FSM, history *sampler.History) func(ctx context.Context) (alerting.Latest, error) {
	return func(ctx context.Context) (alerting.Latest, error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		out := alerting.Latest{}
		var errs []error
		asked := 0
		sem := make(chan struct{}, 16) // hosts asked at once
		for _, n := range st.Nodes() {
			if n.Status != fsm.NodeAlive && n.Status != fsm.NodeSuspect {
				continue
			}
			asked++
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				l, err := history.Latest(ctx, n.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
					return
				}
				maps.Copy(out, l)
			}()
		}
		wg.Wait()
		if asked > 0 && len(errs) == asked {
			return nil, errors.Join(errs...)
		}
		return out, nil
	}
}

// OldMetrics reads from PostgreSQL the metrics the hosts no longer keep;
// nil without --postgres-dsn.
func (n *Node) OldMetrics() interface {
	QueryOld(ctx context.Context, key string, from, to time.Time, step time.Duration) (metricstore.Result, error)
} {
	if n.pg == nil {
		return nil
	}
	return n.pg
}

// FSM is the node's replicated state, for reads.
func (n *Node) FSM() *fsm.FSM { return n.Agent.FSM() }

// InternalHandler serves the node-to-node endpoints under /internal/v1/.
func (n *Node) InternalHandler() http.Handler { return n.Agent.InternalHandler() }

// Shutdown stops the node without leaving: to the others it looks like a
// crash that the node will come back from.
func (n *Node) Shutdown() error {
	var err error
	n.stopOnce.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.Host.Shutdown()
		if n.Images != nil {
			n.Images.Close()
		}
		n.closeMetrics()
		err = n.Agent.Shutdown()
		n.closePG() // the leader's export stopped with the agent
	})
	return err
}

// Leave departs gracefully (see cluster.Agent.Leave), then stops the rest.
func (n *Node) Leave() error {
	err := n.Agent.Leave()
	n.stopOnce.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.Host.Shutdown()
		if n.Images != nil {
			n.Images.Close()
		}
		n.closeMetrics()
		n.closePG()
	})
	return err
}

// closePG releases PostgreSQL once the exports have stopped.
func (n *Node) closePG() {
	if n.pg != nil {
		n.pg.close()
	}
}

// closeMetrics closes the metrics history, once the sampler has stopped.
func (n *Node) closeMetrics() {
	if n.Metrics.Local != nil {
		n.Metrics.Local.Close()
	}
}
