package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestConfig_DefaultsValidateAndBadTimingsAreNamed(t *testing.T) {
	c := DefaultConfig()
	c.NodeID, c.NodeName, c.BindAddr = "n1", "node-1", "127.0.0.1"
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if c.FenceGrace != 3500*time.Millisecond {
		t.Fatalf("default fence grace %v, want 35%% of 10s", c.FenceGrace)
	}
	bad := c
	bad.FenceTimeout = 3 * bad.HeartbeatInterval
	bad.LoadReportInterval = 0
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "fence timeout >= 4 heartbeats") || !strings.Contains(err.Error(), "load report interval must be positive") {
		t.Fatalf("bad timings: %v", err)
	}
}
