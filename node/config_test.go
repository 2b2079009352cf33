package node

import (
	"strings"
	"testing"
	"time"
)

func TestConfig_DefaultsValidateAndBadTimingsAreNamed(t *testing.T) {
	c := DefaultConfig()
	c.Cluster.NodeID, c.Cluster.NodeName, c.Cluster.BindAddr = "n1", "node-1", "127.0.0.1"
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if c.Cluster.Lease.Grace != 3500*time.Millisecond {
		t.Fatalf("default fence grace %v, want 35%% of 10s", c.Cluster.Lease.Grace)
	}
	bad := c
	bad.Cluster.Lease.Timeout = 3 * bad.Cluster.Lease.Heartbeat
	bad.Host.LoadReportInterval = 0
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "fence timeout >= 4 heartbeats") || !strings.Contains(err.Error(), "load report interval must be positive") {
		t.Fatalf("bad timings: %v", err)
	}
}

// The peer URI policy is set once, in Cluster, and reaches the leader's
// control and the host, which validates it.
func TestConfig_PeerURIPolicyReachesEveryPart(t *testing.T) {
	c := DefaultConfig()
	c.Cluster.NodeID, c.Cluster.NodeName, c.Cluster.BindAddr = "n1", "node-1", "127.0.0.1"
	c.Cluster.PeerURIs.LibvirtSchemes = []string{"qemu+unix"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.Control.PeerURIs.Schemes(); len(got) != 1 || got[0] != "qemu+unix" || len(c.Host.PeerURIs.Schemes()) != 1 {
		t.Fatalf("control allows %v, host %v", got, c.Host.PeerURIs.Schemes())
	}
	c.Cluster.PeerURIs.LibvirtSchemes = []string{"qemu+ext"}
	if err := c.Validate(); err == nil || strings.Count(err.Error(), `"qemu+ext" cannot be allowed`) != 1 {
		t.Fatalf("qemu+ext allowed: %v", err)
	}
}
