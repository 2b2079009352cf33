package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
)

// Agent is one node's distributed core: gossip, Raft, the FSM, write
// forwarding, member reconcile and the leader's table of host leases. The
// leader's decisions (package control) and the host's hypervisor work
// (package host) are built beside it and reach it through the narrow
// interfaces they declare; package node assembles them.
type Agent struct {
	cfg       Config
	logger    *slog.Logger
	fsm       *fsm.FSM
	events    *eventlog.Journal
	stores    Stores
	raft      *raft.Raft
	transport *raft.NetworkTransport
	gossip    *gossip
	keys      *localKeyring
	forwarder *forwarder
	batcher   *batcher
	notify    chan bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// readyTerm is the Raft term in which this node, as leader, finished its
	// barrier: read indexes are served only in that term.
	readyTerm atomic.Uint64

	// contact records breaks of contact with the leader (contact.go).
	contact contactWatch

	// caughtUp is set, and caughtUpCh closed, once the local FSM has applied
	// what the leader had committed after this agent started (read index).
	caughtUp     atomic.Bool
	caughtUpCh   chan struct{}
	caughtUpOnce sync.Once

	// leases is the leader's table of host lease renewals.
	leases *leaderLeases
	// identities holds the gossip members whose certificate was checked.
	identities *identities
	// peerURIWarnings holds the refusals of members' URIs last logged.
	peerURIWarnings peerURIWarnings

	// failBarrier, when set (tests only), runs before the barrier of
	// establishLeadership and fails it with its error.
	failBarrier func() error

	startOnce    sync.Once
	shutdownOnce sync.Once
}

// LeaderWork is what runs while this node leads, after leadership is
// established: the leader's loops (package control). RunLeader returns when
// ctx ends, which is when leadership is lost.
type LeaderWork interface {
	RunLeader(ctx context.Context)
}

// WritePreparer is LeaderWork that also completes the leader's writes before
// they are proposed: package control places new VMs in the entry that
// creates them. PrepareWrites gets each batch of commands (never a host's
// own fsm.Batch) and may change them in place; the done it returns, if not
// nil, runs once the batch's entry has been applied or has failed.
type WritePreparer interface {
	PrepareWrites(cmds []fsm.Command) (done func())
}

// New starts an agent's Raft over the given stores, gossip and write
// forwarding. Leadership is followed only once Start says what a leader runs.
// The caller serves InternalHandler on the node's HTTP listener.
func New(cfg Config, stores Stores) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:        cfg,
		logger:     cfg.Logger.With("component", "agent", "node", cfg.NodeName),
		fsm:        fsm.New(),
		events:     eventlog.New(cfg.Events),
		stores:     stores,
		ctx:        ctx,
		cancel:     cancel,
		leases:     newLeaderLeases(),
		identities: newIdentities(),
		caughtUpCh: make(chan struct{}),
		// Raft blocks on a full NotifyCh; the room covers the time until
		// Start reads it.
		notify: make(chan bool, 16),
	}
	// The journal hears every apply, from the first one Raft replays.
	a.fsm.SetObserver(a.events)
	var err error
	// The keyring comes first: a keyring file that cannot be read stops the
	// node before anything listens.
	if a.keys, err = loadKeyring(&a.cfg, a.logger); err != nil {
		cancel()
		return nil, err
	}
	a.raft, a.transport, err = newRaft(&a.cfg, a.fsm, stores, a.notify)
	if err != nil {
		cancel()
		return nil, err
	}
	n := cfg.Node
	meta := nodeMeta{
		ID: cfg.NodeID, Raft: cfg.RaftAddr(), API: cfg.APIAddr, Version: cfg.Version,
		Expect: cfg.BootstrapExpect, VCPUs: n.VCPUs, Memory: n.MemoryMiB,
		Disk: n.DiskGiB, Driver: n.Driver, URI: n.URI, Labels: n.Labels,
		Nets: n.Networks, MURI: n.MigrateURI, OC: n.CPUOvercommit,
		Keys: a.keys.fingerprints(),
	}
	a.gossip, err = newGossip(&a.cfg, meta, a.keys.ml)
	if err != nil {
		a.raft.Shutdown().Error()
		a.transport.Close()
		cancel()
		return nil, err
	}
	a.forwarder = newForwarder(a)
	a.batcher = newBatcher(a.raft, cfg.ApplyTimeout)
	a.goLoop(a.batcher.run)
	a.goLoop(a.batcher.notice.run)
	a.goLoop(func(ctx context.Context) {
		a.gossip.joinLoop(ctx, cfg.Join, a.knownGossipAddrs, a.gossipMissesKnownNodes, cfg.RejoinInterval)
	})
	a.goLoop(a.bootstrapLoop)
	a.goLoop(a.bootstrapTokenLoop)
	a.goLoop(a.keyringLoop)
	a.logger.Info("agent started", "id", cfg.NodeID, "raft", cfg.RaftAddr(), "api", cfg.APIAddr, "hypervisor", n.Driver,
		"gossip_encrypted", a.keys.current().Encrypted(), "gossip_keys", meta.Keys)
	return a, nil
}

// Start follows leadership: while this node leads, it reconciles members and
// runs work. Call it once, after registering the internal routes.
func (a *Agent) Start(work LeaderWork) {
	a.startOnce.Do(func() {
		if p, ok := work.(WritePreparer); ok {
			a.batcher.preparer.Store(&p)
		}
		a.goLoop(func(ctx context.Context) { a.monitorLeadership(ctx, a.notify, work) })
		a.goLoop(a.watchContact)
	})
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

// CaughtUp reports whether this node has caught up with the leader since it
// started: before that its state may lack recent writes.
func (a *Agent) CaughtUp() bool { return a.caughtUp.Load() }

// FSM is the node's replicated state, for reads.
func (a *Agent) FSM() *fsm.FSM { return a.fsm }

// Events is the journal of the changes this node applied: the event stream.
func (a *Agent) Events() *eventlog.Journal { return a.events }

// ID is the node's ID.
func (a *Agent) ID() string { return a.cfg.NodeID }

// Name is the node's name.
func (a *Agent) Name() string { return a.cfg.NodeName }

// IsLeader reports whether this node is the Raft leader now.
func (a *Agent) IsLeader() bool { return a.raft.State() == raft.Leader }

// CredentialIndex is the index a node must have applied before it trusts
// its copy of tokens and sessions, so that a revocation the leader has
// committed is refused on this node too (issue 14): 0 on the leader; 0 on a
// follower in touch with the leader without a break for maxStale
// (contact.go), once it has applied
// the commit index the leader last told it; on one that has not, the
// leader's read index, or ErrNoLeader at once when it knows no leader, or an
// error when the leader does not answer.
func (a *Agent) CredentialIndex(ctx context.Context, maxStale time.Duration) (uint64, error) {
	if a.IsLeader() {
		return 0, nil
	}
	if a.inTouchFor(maxStale) {
		// Wait until raft has applied what the leader told us is committed.
		// Raft's own applied index, not the FSM's: configuration entries
		// never reach the FSM, so its index may stay below the commit index.
		// Behind by more than a few entries is rare (a node catching up),
		// so a short poll does.
		commit := a.raft.CommitIndex()
		for a.raft.AppliedIndex() < commit {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return 0, nil
	}
	if addr, _ := a.raft.LeaderWithID(); addr == "" {
		return 0, ErrNoLeader // no leader to ask: do not wait for one
	}
	return a.ConsistentIndex(ctx)
}

// InternalHandler serves the node-to-node endpoints (write forwarding, read index)
// under /internal/v1/.
func (a *Agent) InternalHandler() http.Handler { return a.forwarder.handler() }

// Context ends when the agent shuts down: work that outlives a request (a
// migration's copy, a guest's shutdown) runs under it.
func (a *Agent) Context() context.Context { return a.ctx }

// ApplyTimeout bounds one write through Raft.
func (a *Agent) ApplyTimeout() time.Duration { return a.cfg.ApplyTimeout }

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
		Term:         a.raft.CurrentTerm(),
		Insecure:     a.cfg.TLS == nil,
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
			GossipKeys: m.Meta.Keys,
		})
		if m.Meta.ID == string(leaderID) {
			st.LeaderName = m.Name
		}
	}
	return st
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

// Raft is this node's Raft instance, for status pages and tests that inspect
// the log and configuration. Writes go through Apply, never through it.
func (a *Agent) Raft() *raft.Raft { return a.raft }

// GossipKnows reports whether this node's gossip view holds the node with id
// (as forwarding to it needs), and how many members memberlist counts.
func (a *Agent) GossipKnows(id string) (known bool, members int) {
	_, known = a.gossip.memberByID(id)
	return known, a.gossip.ml.NumMembers()
}
