package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/internal/peeruri"
	"github.com/novacron/novacron/lease"
)

// Config is everything the distributed core needs. cmd/novacron builds it from
// the user's flags, environment and config file; tests start from TestConfig.
type Config struct {
	// NodeID is the node's stable identity (from the data dir); NodeName is the
	// human name, unique in the cluster.
	NodeID   string
	NodeName string

	// BindAddr is the IP the gossip and Raft listeners bind; AdvertiseAddr is the
	// IP other nodes use to reach this one (BindAddr when empty).
	BindAddr      string
	AdvertiseAddr string
	GossipPort    int
	RaftPort      int
	// APIAddr is host:port of this node's HTTP API, published to other nodes for
	// write forwarding and shown in the API.
	APIAddr string

	// Join lists gossip addresses (host:port) to join; retried until one answers
	// and again every RejoinInterval while members are missing.
	Join []string
	// BootstrapExpect, when > 0, bootstraps a new cluster once that many nodes
	// configured with the same value have met.
	BootstrapExpect int
	// Voters is how many Raft voters the cluster keeps (3 or 5); other nodes are
	// non-voters.
	Voters int
	// BootstrapToken, when set, becomes the root API token of a new cluster.
	BootstrapToken string
	// GossipKey encrypts gossip (16, 24 or 32 bytes) when the node has no
	// keyring file yet; nil for none (see keyring.go).
	GossipKey []byte
	// GossipKeyringFile is where the node keeps its gossip keyring (the
	// data dir's gossip-keyring.json): read at start before GossipKey, and
	// saved whenever the cluster's keyring changes. Empty keeps the keyring
	// in memory only (some tests).
	GossipKeyringFile string
	Version           string

	// Raft timings (see hashicorp/raft Config).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration

	// LocalGossip picks memberlist's fast loopback timings (dev mode, tests).
	LocalGossip bool
	// ReconcileInterval is how often the leader re-reads all gossip members.
	ReconcileInterval time.Duration
	// RejoinInterval is how often a node retries --join while it misses members.
	RejoinInterval time.Duration
	// DeadVoterGrace is how long a voter may stay failed before a healthy
	// non-voter replaces it.
	DeadVoterGrace time.Duration
	// Lease is the fencing lease's timing: the leader's table of renewals
	// judges hosts by it.
	Lease lease.Timing
	// Node is what this node publishes about its host in gossip (capacity,
	// hypervisor, labels), recorded in the cluster state by the leader.
	Node NodeInfo
	// TLS, when set, is how this node calls the others' internal endpoints:
	// over HTTPS, presenting its node certificate (package pki). A node with
	// TLS also requires a node certificate of every caller of its own.
	TLS *tls.Config
	// CACertPEM and CAKeyPEM, when set (agent --tls-ca-key), are the
	// cluster's CA: the first time this node leads a cluster whose state
	// holds no CA yet, it records them there, so that any node can enroll
	// hosts that bring a join token.
	CACertPEM, CAKeyPEM string
	// ApplyTimeout bounds one write through Raft.
	ApplyTimeout time.Duration
	// PeerURIs judges the URIs members publish for migrations; the leader
	// logs those it refuses when it records a member (peer_uri.go).
	PeerURIs peeruri.Policy
	// Events bounds the event stream's history (package eventlog).
	Events eventlog.Config

	Logger *slog.Logger

	// StreamLayer, when set, replaces Raft's TCP stream layer: in-process
	// tests use it to partition nodes.
	StreamLayer raft.StreamLayer
}

// DefaultConfig returns production timings; the caller fills in identity and
// addresses.
func DefaultConfig() Config {
	return Config{
		GossipPort:         7946,
		RaftPort:           7947,
		Voters:             3,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond, // raft's default: the commit notice (commit_notice.go) keeps followers fresh
		SnapshotThreshold:  8192,
		SnapshotInterval:   120 * time.Second,
		ReconcileInterval:  10 * time.Second,
		RejoinInterval:     30 * time.Second,
		DeadVoterGrace:     30 * time.Second,
		ApplyTimeout:       10 * time.Second,
		Lease:              lease.DefaultTiming(),
		Logger:             slog.Default(),
	}
}

// TestConfig returns short timings for in-process clusters on loopback.
func TestConfig() Config {
	c := DefaultConfig()
	c.BindAddr = "127.0.0.1"
	c.LocalGossip = true
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.ReconcileInterval = 500 * time.Millisecond
	c.RejoinInterval = 1 * time.Second
	c.DeadVoterGrace = 2 * time.Second
	c.Lease = TestLease()
	c.ApplyTimeout = 5 * time.Second
	return c
}

// Validate checks the configuration and fills in derived values.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("node id is required"))
	}
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name is required"))
	}
	if err := c.Lease.Validate(); err != nil {
		errs = append(errs, err)
	}
	if net.ParseIP(c.BindAddr) == nil {
		errs = append(errs, fmt.Errorf("bind address %q is not an IP address", c.BindAddr))
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	if ip := net.ParseIP(c.AdvertiseAddr); ip == nil || ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("advertise address %q must be an IP other nodes can reach (set --advertise when binding 0.0.0.0)", c.AdvertiseAddr))
	}
	if c.Voters != 1 && c.Voters != 3 && c.Voters != 5 {
		errs = append(errs, fmt.Errorf("voters must be 3 or 5 (1 for a single-node dev cluster), got %d", c.Voters))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, fmt.Errorf("bootstrap-expect must not be negative, got %d", c.BootstrapExpect))
	}
	if n := len(c.GossipKey); n != 0 && n != 16 && n != 24 && n != 32 {
		errs = append(errs, fmt.Errorf("gossip key must be 16, 24 or 32 bytes, got %d", n))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// RaftAddr is the address other nodes dial for Raft.
func (c *Config) RaftAddr() string {
	return net.JoinHostPort(c.AdvertiseAddr, fmt.Sprint(c.RaftPort))
}

// TestLease is the short lease of in-process test clusters: a renewal every
// 100 ms, failover after 2 s.
func TestLease() lease.Timing {
	return lease.Timing{Heartbeat: 100 * time.Millisecond, Timeout: 2 * time.Second, Grace: 500 * time.Millisecond}
}

// NodeInfo is what a node publishes about its host: capacity, hypervisor,
// labels, networks, and how it takes migrations. The leader records it in
// the node's entry of the cluster state, where placement reads it.
type NodeInfo struct {
	VCPUs     int
	MemoryMiB int64
	DiskGiB   int64
	// Driver names the hypervisor driver (libvirt, sim); URI is where other
	// hosts reach it (--libvirt-peer-uri), which they check (package peeruri).
	Driver string
	URI    string
	Labels map[string]string
	// Networks are the virtual networks active on the host.
	Networks []string
	// MigrateURI is where this host accepts migration streams
	// ("tcp://10.0.0.2"); empty lets libvirt choose (the host's name).
	MigrateURI string
	// CPUOvercommit, when >= 1, is this node's vCPU overcommit ratio; 0 takes
	// the cluster's default setting.
	CPUOvercommit float64
}
