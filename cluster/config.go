package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
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
	// GossipKey encrypts gossip (16, 24 or 32 bytes); nil for none.
	GossipKey []byte
	Version   string

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
	// HostResyncInterval is how often the host reconciler compares everything,
	// beside reacting to events.
	HostResyncInterval time.Duration
	// VCPUs, when > 0, is the number of vCPUs this host offers to VMs instead of
	// the CPU count the driver reports (an operator's over-commit).
	VCPUs int
	// MemoryMiB, when > 0, is the memory this host offers to VMs instead of all
	// of it (leave room for the host itself).
	MemoryMiB int64
	// CPUOvercommit, when >= 1, is this node's vCPU overcommit ratio; 0 takes
	// the cluster's default setting.
	CPUOvercommit float64
	// MigrateURI is where this host accepts migration streams
	// ("tcp://10.0.0.2"); empty lets libvirt choose (the host's name).
	MigrateURI string
	// SimFleet, when > 0, makes this agent also simulate that many extra hosts
	// in-process (sim driver), registered as nodes of the cluster, for scale
	// tests of placement and migration.
	SimFleet int
	// FleetDriver makes each fleet host's driver (a sim driver named name).
	FleetDriver FleetDriverFunc
	// HeartbeatInterval is how often a host renews its lease with the leader.
	HeartbeatInterval time.Duration
	// FenceTimeout is how long after its last lease renewal a host's VMs may
	// be restarted elsewhere; the host fences itself FenceGrace before that.
	FenceTimeout time.Duration
	FenceGrace   time.Duration
	// Watchdog is a watchdog device (/dev/watchdog, softdog) petted while the
	// host is safe (see hostLease.safe); empty for none.
	Watchdog string
	// LoadReportInterval is how often the host sends its load to the leader for
	// rebalancing.
	LoadReportInterval time.Duration
	// MigrationProgressInterval is how often a running migration's progress is
	// written to Raft.
	MigrationProgressInterval time.Duration
	// StopTimeout is how long a guest gets to shut down before it is destroyed.
	StopTimeout time.Duration
	// ApplyTimeout bounds one write through Raft.
	ApplyTimeout time.Duration

	Logger *slog.Logger

	// streamLayer replaces Raft's TCP stream layer; in-process tests use it to
	// partition nodes.
	streamLayer raft.StreamLayer
}

// DefaultConfig returns production timings; the caller fills in identity and
// addresses.
func DefaultConfig() Config {
	return Config{
		GossipPort:                7946,
		RaftPort:                  7947,
		Voters:                    3,
		HeartbeatTimeout:          1000 * time.Millisecond,
		ElectionTimeout:           1000 * time.Millisecond,
		LeaderLeaseTimeout:        500 * time.Millisecond,
		CommitTimeout:             50 * time.Millisecond,
		SnapshotThreshold:         8192,
		SnapshotInterval:          120 * time.Second,
		ReconcileInterval:         10 * time.Second,
		RejoinInterval:            30 * time.Second,
		DeadVoterGrace:            30 * time.Second,
		HostResyncInterval:        10 * time.Second,
		StopTimeout:               30 * time.Second,
		LoadReportInterval:        10 * time.Second,
		MigrationProgressInterval: time.Second,
		ApplyTimeout:              10 * time.Second,
		HeartbeatInterval:         time.Second,
		FenceTimeout:              10 * time.Second,
		FenceGrace:                FenceGraceFor(10 * time.Second),
		Logger:                    slog.Default(),
	}
}

// FenceGraceFor is how long before its fence timeout a host fences itself:
// 35% of it, room for a slow clock, a late heartbeat and the destroys
// themselves before the leader restarts the VMs elsewhere.
func FenceGraceFor(timeout time.Duration) time.Duration { return timeout * 35 / 100 }

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
	c.HostResyncInterval = 1 * time.Second
	c.StopTimeout = 2 * time.Second
	c.LoadReportInterval = 500 * time.Millisecond
	c.HeartbeatInterval = 100 * time.Millisecond
	c.FenceTimeout = 2 * time.Second
	c.FenceGrace = 500 * time.Millisecond
	c.MigrationProgressInterval = 200 * time.Millisecond
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
	if err := c.fleetDriverCheck(); err != nil {
		errs = append(errs, err)
	}
	// Four heartbeats: a host is suspect after three missed ones, before it
	// can be failed.
	if c.HeartbeatInterval <= 0 || c.FenceTimeout < 4*c.HeartbeatInterval || c.FenceGrace < 0 || c.FenceGrace >= c.FenceTimeout-c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("fencing: need heartbeat interval > 0, fence timeout >= 4 heartbeats and grace < timeout - 1 heartbeat (got %v, %v, %v)",
			c.HeartbeatInterval, c.FenceTimeout, c.FenceGrace))
	}
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{{"host resync", c.HostResyncInterval}, {"load report", c.LoadReportInterval}, {"migration progress", c.MigrationProgressInterval}} {
		if iv.d <= 0 {
			errs = append(errs, fmt.Errorf("%s interval must be positive, got %v", iv.name, iv.d))
		}
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
