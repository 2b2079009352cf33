package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// Agent is one node's distributed core: gossip, Raft, the FSM, the leader's loops
// and the host reconciler. cmd/novacron builds one per process; tests build many.
type Agent struct {
	cfg       Config
	logger    *slog.Logger
	fsm       *fsm.FSM
	stores    Stores
	raft      *raft.Raft
	transport *raft.NetworkTransport
	gossip    *gossip
	driver    hypervisor.Driver
	forwarder *forwarder
	batcher   *batcher

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// readyTerm is the Raft term in which this node, as leader, finished its
	// barrier: read indexes are served only in that term.
	readyTerm atomic.Uint64

	// caughtUp is set, and caughtUpCh closed, once the local FSM has applied
	// what the leader had committed after this agent started (read index).
	caughtUp     atomic.Bool
	caughtUpCh   chan struct{}
	caughtUpOnce sync.Once

	// lease is this host's fencing lease; leases the leader's view of all.
	lease    *hostLease
	leases   *leaderLeases
	watchdog *watchdog
	// hostsMu guards hostList: the host reconcilers of this agent's node and
	// of its fleet hosts.
	hostsMu  sync.Mutex
	hostList []*hostReconciler

	// loads and rebalancer are the leader's in-memory rebalancing state.
	loads      *loadTracker
	rebalancer *rebalancer

	shutdownOnce sync.Once
}

// New starts an agent: Raft over the given stores, gossip, and the background
// loops. The caller serves InternalHandler on the node's HTTP listener.
func New(cfg Config, stores Stores, driver hypervisor.Driver) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:    cfg,
		logger: cfg.Logger.With("component", "agent", "node", cfg.NodeName),
		fsm:    fsm.New(),
		stores: stores,
		driver: driver,
		ctx:    ctx,
		cancel: cancel,
		loads:  newLoadTracker(), rebalancer: &rebalancer{},
		lease: newHostLease(), leases: newLeaderLeases(),
		caughtUpCh: make(chan struct{}),
	}
	var err error
	if a.watchdog, err = openWatchdog(cfg.Watchdog); err != nil {
		cancel()
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	// Opening the device armed it: disarm it if the agent does not start, or
	// the kernel resets the host.
	started := false
	defer func() {
		if !started {
			a.watchdog.close()
		}
	}()
	capacity, err := driver.Capacity(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("read host capacity from %s driver: %w", driver.Name(), err)
	}
	if cfg.VCPUs > 0 {
		capacity.VCPUs = cfg.VCPUs
	}
	if cfg.MemoryMiB > 0 {
		capacity.MemoryMiB = cfg.MemoryMiB
	}
	notify := make(chan bool, 16)
	a.raft, a.transport, err = newRaft(&a.cfg, a.fsm, stores, notify)
	if err != nil {
		cancel()
		return nil, err
	}
	meta := nodeMeta{
		ID: cfg.NodeID, Raft: cfg.RaftAddr(), API: cfg.APIAddr, Version: cfg.Version,
		Expect: cfg.BootstrapExpect, VCPUs: capacity.VCPUs, Memory: capacity.MemoryMiB,
		Disk: capacity.DiskGiB, Driver: driver.Name(), URI: driver.URI(), Labels: driver.Labels(),
		Nets: capacity.Networks, MURI: cfg.MigrateURI, OC: cfg.CPUOvercommit,
	}
	a.gossip, err = newGossip(&a.cfg, meta)
	if err != nil {
		a.raft.Shutdown().Error()
		a.transport.Close()
		cancel()
		return nil, err
	}
	a.forwarder = newForwarder(a)
	a.batcher = newBatcher(a.raft, cfg.ApplyTimeout)
	a.goLoop(a.batcher.run)
	a.goLoop(func(ctx context.Context) {
		a.gossip.joinLoop(ctx, cfg.Join, a.knownGossipAddrs, a.gossipMissesKnownNodes, cfg.RejoinInterval)
	})
	a.goLoop(a.bootstrapLoop)
	a.goLoop(func(ctx context.Context) { a.monitorLeadership(ctx, notify) })
	a.goLoop(a.bootstrapTokenLoop)
	a.goLoop(a.addHost(newHostReconciler(a, cfg.NodeID, cfg.NodeName, driver)).run)
	a.goLoop(a.leaseLoop)
	a.goLoop(a.fenceLoop)
	a.goLoop(a.loadReportLoop)
	if cfg.SimFleet > 0 {
		a.goLoop(a.fleetLoop)
	}
	started = true
	a.logger.Info("agent started", "id", cfg.NodeID, "raft", cfg.RaftAddr(), "api", cfg.APIAddr, "hypervisor", driver.Name())
	return a, nil
}

func (a *Agent) goLoop(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// knownGossipAddrs lists the gossip addresses of the other members the FSM
// remembers (those that did not leave).
func (a *Agent) knownGossipAddrs() []string {
	var out []string
	for _, n := range a.fsm.Nodes() {
		if n.ID != a.cfg.NodeID && n.Status != fsm.NodeLeft && n.GossipAddr != "" {
			out = append(out, n.GossipAddr)
		}
	}
	return out
}

// gossipMissesKnownNodes reports whether a node the cluster knows (and that
// did not leave) is absent from this node's gossip view: after restarts a node
// can end up in a gossip island with one peer, where nobody looks failed, and
// only a join heals it before memberlist's next full sync.
func (a *Agent) gossipMissesKnownNodes() bool {
	for _, n := range a.fsm.Nodes() {
		if n.ID == a.cfg.NodeID || n.Status == fsm.NodeLeft || n.Fleet != "" || n.GossipAddr == "" {
			continue
		}
		if _, ok := a.gossip.memberByID(n.ID); !ok {
			return true
		}
	}
	return false
}

// addHost registers a host reconciler (for fencing) and returns it.
func (a *Agent) addHost(h *hostReconciler) *hostReconciler {
	a.hostsMu.Lock()
	a.hostList = append(a.hostList, h)
	a.hostsMu.Unlock()
	return h
}

// hosts returns this agent's host reconcilers: its own and its fleet's.
func (a *Agent) hosts() []*hostReconciler {
	a.hostsMu.Lock()
	defer a.hostsMu.Unlock()
	return append([]*hostReconciler(nil), a.hostList...)
}

// CaughtUp reports whether this node has caught up with the leader since it
// started: before that its state may lack recent writes.
func (a *Agent) CaughtUp() bool { return a.caughtUp.Load() }

// FSM is the node's replicated state, for reads.
func (a *Agent) FSM() *fsm.FSM { return a.fsm }

// ID is the node's ID.
func (a *Agent) ID() string { return a.cfg.NodeID }

// Name is the node's name.
func (a *Agent) Name() string { return a.cfg.NodeName }

// IsLeader reports whether this node is the Raft leader now.
func (a *Agent) IsLeader() bool { return a.raft.State() == raft.Leader }

// InternalHandler serves the node-to-node endpoints (write forwarding, read index)
// under /internal/v1/.
func (a *Agent) InternalHandler() http.Handler { return a.forwarder.handler() }

// Leave departs gracefully: it hands leadership over if it holds it, marks itself
// leaving in gossip, records "left" through Raft (so the leader removes it from
// the Raft configuration rather than waiting for it as failed), leaves gossip,
// then shuts down.
func (a *Agent) Leave() error {
	if a.IsLeader() {
		if err := a.raft.LeadershipTransfer().Error(); err != nil {
			a.logger.Warn("leadership transfer", "error", err)
		}
	}
	a.gossip.announceLeaving(5 * time.Second)
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	_, err := a.Apply(ctx, &fsm.SetNodeStatus{ID: a.cfg.NodeID, Status: fsm.NodeLeft, Cause: "left the cluster", At: time.Now().UTC()})
	cancel()
	if err != nil {
		a.logger.Warn("recording leave", "error", err)
	}
	a.gossip.leave(5 * time.Second)
	return a.Shutdown()
}

// Shutdown stops the agent without leaving: to the others it looks like a crash
// that the node will come back from.
func (a *Agent) Shutdown() error {
	var err error
	a.shutdownOnce.Do(func() {
		a.cancel()
		a.gossip.shutdown()
		err = a.raft.Shutdown().Error()
		a.transport.Close()
		a.wg.Wait()
		a.watchdog.close()
		a.forwarder.close()
		a.logger.Info("agent stopped")
	})
	return err
}

// Status reports the cluster as this node sees it.
func (a *Agent) Status() Status {
	_, leaderID := a.raft.LeaderWithID()
	st := Status{
		ClusterID:    a.fsm.Cluster().ID,
		LeaderID:     string(leaderID),
		LocalID:      a.cfg.NodeID,
		LocalName:    a.cfg.NodeName,
		AppliedIndex: a.fsm.AppliedIndex(),
		CommitIndex:  a.raft.CommitIndex(),
		Term:         a.term(),
	}
	roles := map[string]string{}
	if f := a.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			roles[string(s.ID)] = roleName(s.Suffrage)
		}
	}
	for _, m := range a.gossip.Members() {
		role, ok := roles[m.Meta.ID]
		if !ok {
			role = "none"
		}
		st.Members = append(st.Members, MemberStatus{
			ID: m.Meta.ID, Name: m.Name, Status: string(m.Status), RaftRole: role,
			Leader: m.Meta.ID == string(leaderID), RaftAddr: m.Meta.Raft, APIAddr: m.Meta.API,
		})
		if m.Meta.ID == string(leaderID) {
			st.LeaderName = m.Name
		}
	}
	return st
}

func (a *Agent) term() uint64 {
	var t uint64
	fmt.Sscan(a.raft.Stats()["term"], &t)
	return t
}

func roleName(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	}
	return "staging"
}

// errIsShutdown reports whether err means raft is shutting down.
func errIsShutdown(err error) bool { return errors.Is(err, raft.ErrRaftShutdown) }
