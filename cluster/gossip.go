package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/logadapt"
)

// nodeMeta is what each node publishes about itself in gossip. memberlist limits
// it to 512 bytes, hence the short keys.
type nodeMeta struct {
	ID      string `json:"id"`
	Raft    string `json:"r"`
	API     string `json:"a"`
	Version string `json:"v"`
	// Expect is the node's --bootstrap-expect; only nodes that agree bootstrap.
	Expect int               `json:"e,omitempty"`
	VCPUs  int               `json:"cpu"`
	Memory int64             `json:"mem"`
	Disk   int64             `json:"disk"`
	Driver string            `json:"hv"`
	URI    string            `json:"uri,omitempty"`
	Labels map[string]string `json:"l,omitempty"`
	Nets   []string          `json:"n,omitempty"`
	// MURI is where the host accepts migration streams; OC its vCPU overcommit.
	MURI string  `json:"mu,omitempty"`
	OC   float64 `json:"oc,omitempty"`
	// Leaving is published just before a graceful leave. memberlist v0.5 does not
	// tell a departed member from a dead one in its events, so this is how the
	// others know the node left rather than failed.
	Leaving bool `json:"leaving,omitempty"`
	// Keys are the fingerprints of the gossip keys the node holds, primary
	// first (keyring.go): a key is made primary only once every alive member
	// holds it. At most fsm.MaxGossipKeys of 8 characters.
	Keys []string `json:"k,omitempty"`
}

// encode returns the metadata as JSON. What does not fit in memberlist's
// limit is dropped: first the key fingerprints (the node then looks as if it
// held no key, so a rotation waits for it, loudly, rather than the node's
// labels changing under placement), then the labels.
func (m nodeMeta) encode(logger *slog.Logger) []byte {
	b, _ := json.Marshal(m)
	if len(b) > memberlist.MetaMaxSize && len(m.Keys) > 0 {
		logger.Warn("gossip key fingerprints do not fit in gossip metadata beside the labels; publishing without them, so key rotations wait for this node: shorten its labels", "bytes", len(b), "limit", memberlist.MetaMaxSize)
		m.Keys = nil
		b, _ = json.Marshal(m)
	}
	if len(b) > memberlist.MetaMaxSize {
		logger.Warn("node labels do not fit in gossip metadata; publishing without them", "bytes", len(b), "limit", memberlist.MetaMaxSize)
		m.Labels = nil
		b, _ = json.Marshal(m)
	}
	return b
}

// member is the gossip view of one node.
type member struct {
	Name   string
	Addr   string
	Meta   nodeMeta
	Status fsm.NodeStatus
	Since  time.Time
}

// node turns a member into the FSM's node record.
func (m member) node() fsm.Node {
	return fsm.Node{
		ID: m.Meta.ID, Name: m.Name, RaftAddr: m.Meta.Raft, APIAddr: m.Meta.API,
		GossipAddr: m.Addr, Version: m.Meta.Version,
		Capacity:      fsm.Capacity{VCPUs: m.Meta.VCPUs, MemoryMiB: m.Meta.Memory, DiskGiB: m.Meta.Disk},
		Labels:        m.Meta.Labels,
		Hypervisor:    fsm.HypervisorInfo{Driver: m.Meta.Driver, URI: m.Meta.URI, MigrateURI: m.Meta.MURI},
		Networks:      m.Meta.Nets,
		CPUOvercommit: m.Meta.OC,
		Status:        fsm.NodeAlive,
	}
}

// gossip wraps memberlist and keeps the status of every member ever seen, since
// memberlist itself forgets dead and departed nodes.
type gossip struct {
	ml     *memberlist.Memberlist
	self   nodeMeta
	logger *slog.Logger

	// metaMu guards self and meta, which memberlist reads from its goroutines.
	metaMu sync.Mutex
	meta   []byte

	mu      sync.Mutex
	members map[string]*member
	// changed gets a value (coalesced) whenever membership changes.
	changed chan struct{}
}

func newGossip(cfg *Config, meta nodeMeta, keyring *memberlist.Keyring) (*gossip, error) {
	g := &gossip{
		self:    meta,
		meta:    meta.encode(cfg.Logger),
		logger:  cfg.Logger.With("component", "gossip"),
		members: map[string]*member{},
		changed: make(chan struct{}, 1),
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.LocalGossip {
		mc = memberlist.DefaultLocalConfig()
	}
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.GossipPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.GossipPort
	mc.Keyring = keyring
	mc.Delegate = g
	mc.Events = g
	mc.Logger = nil
	mc.LogOutput = logadapt.Writer{Logger: g.logger}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s:%d: %w", cfg.BindAddr, cfg.GossipPort, err)
	}
	g.ml = ml
	return g, nil
}

// NodeMeta implements memberlist.Delegate.
func (g *gossip) NodeMeta(limit int) []byte {
	g.metaMu.Lock()
	defer g.metaMu.Unlock()
	return g.meta
}

// NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState are unused: all
// cluster state travels through Raft, gossip only carries membership.
func (g *gossip) NotifyMsg([]byte)                           {}
func (g *gossip) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (g *gossip) LocalState(join bool) []byte                { return nil }
func (g *gossip) MergeRemoteState(buf []byte, join bool)     {}

// NotifyJoin, NotifyLeave and NotifyUpdate implement memberlist.EventDelegate.
func (g *gossip) NotifyJoin(n *memberlist.Node)   { g.record(n, fsm.NodeAlive) }
func (g *gossip) NotifyUpdate(n *memberlist.Node) { g.record(n, fsm.NodeAlive) }
func (g *gossip) NotifyLeave(n *memberlist.Node) {
	var meta nodeMeta
	if json.Unmarshal(n.Meta, &meta) == nil && meta.Leaving {
		g.record(n, fsm.NodeLeft)
	} else {
		g.record(n, fsm.NodeFailed)
	}
}

func (g *gossip) record(n *memberlist.Node, status fsm.NodeStatus) {
	var meta nodeMeta
	if err := json.Unmarshal(n.Meta, &meta); err != nil || meta.ID == "" {
		g.logger.Warn("ignoring gossip member with unreadable metadata", "member", n.Name, "error", err)
		return
	}
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	g.mu.Lock()
	m, ok := g.members[n.Name]
	if !ok || m.Status != status {
		g.logger.Info("member status", "member", n.Name, "status", status, "addr", addr)
		m = &member{Name: n.Name, Status: status, Since: time.Now()}
		g.members[n.Name] = m
	}
	m.Addr, m.Meta = addr, meta
	g.mu.Unlock()
	g.signal()
}

func (g *gossip) signal() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// Members returns every member ever seen, with suspect status refreshed from
// memberlist (which raises no event for it), sorted by name.
func (g *gossip) Members() []member {
	suspect := map[string]bool{}
	for _, n := range g.ml.Members() {
		if n.State == memberlist.StateSuspect {
			suspect[n.Name] = true
		}
	}
	g.mu.Lock()
	out := make([]member, 0, len(g.members))
	for _, m := range g.members {
		c := *m
		if c.Status == fsm.NodeAlive && suspect[c.Name] {
			c.Status = fsm.NodeSuspect
		}
		out = append(out, c)
	}
	g.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// memberByID finds a member by node ID.
func (g *gossip) memberByID(id string) (member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m.Meta.ID == id {
			return *m, true
		}
	}
	return member{}, false
}

// joinLoop joins the --join addresses, retrying until one answers, and then keeps
// re-joining whenever some known member is not alive, so a node that was cut off
// finds its way back without an operator. Besides --join it tries the gossip
// addresses of the members its FSM remembers (known), so a restarted node finds
// the cluster even when it was started without --join.
func (g *gossip) joinLoop(ctx context.Context, static []string, known func() []string, unseen func() bool, interval time.Duration) {
	backoff := 500 * time.Millisecond
	joined := false
	for {
		addrs := append(append([]string(nil), static...), known()...)
		if len(addrs) > 0 && (!joined || g.missingMembers() || unseen()) {
			n, err := g.ml.Join(addrs)
			switch {
			case n > 0:
				if !joined {
					g.logger.Info("joined cluster", "contacted", n)
				}
				joined = true
			case len(static) > 0:
				g.logger.Warn("join failed, retrying", "addrs", addrs, "error", err)
			}
		}
		wait := interval
		if !joined {
			wait, backoff = backoff, min(backoff*2, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// missingMembers reports whether a member other than those that left is not alive.
func (g *gossip) missingMembers() bool {
	if g.ml.NumMembers() <= 1 {
		return true
	}
	for _, m := range g.Members() {
		if m.Status == fsm.NodeFailed {
			return true
		}
	}
	return false
}

// announceLeaving publishes Leaving in this node's metadata, so the others
// record "left" rather than "failed" when it goes.
func (g *gossip) announceLeaving(timeout time.Duration) {
	g.metaMu.Lock()
	g.self.Leaving = true
	g.meta = g.self.encode(g.logger)
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(timeout); err != nil {
		g.logger.Warn("announcing leave", "error", err)
	}
}

// publishKeys publishes the fingerprints of the gossip keys this node holds.
func (g *gossip) publishKeys(fingerprints []string, timeout time.Duration) {
	g.metaMu.Lock()
	g.self.Keys = fingerprints
	g.meta = g.self.encode(g.logger)
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(timeout); err != nil {
		g.logger.Warn("publishing gossip key fingerprints", "error", err)
	}
}

// leave leaves gossip and stops it.
func (g *gossip) leave(timeout time.Duration) {
	if err := g.ml.Leave(timeout); err != nil {
		g.logger.Warn("gossip leave", "error", err)
	}
	g.shutdown()
}

func (g *gossip) shutdown() {
	if err := g.ml.Shutdown(); err != nil {
		g.logger.Warn("gossip shutdown", "error", err)
	}
}
