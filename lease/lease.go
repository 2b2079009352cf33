// Package lease holds the fencing lease's timings and the rules built on them,
// in one place for the three parties that must agree on them: the host that
// renews its lease and fences itself (package host), the leader's table of
// renewals (package cluster), and the failover that restarts a silent host's
// VMs elsewhere (package control).
//
// Every host renews a lease with the leader every Heartbeat. The host counts
// its lease from the moment it sent the renewal (before the leader saw it),
// and fences itself Grace before the lease would end: it stops its HA VMs and
// starts nothing until it renews again. The leader counts from when it
// received the renewal, and restarts a host's VMs elsewhere only once Timeout
// plus one heartbeat has passed since then (or since it became leader, if it
// never heard from the host). So the host has surely fenced before its VMs
// start anywhere else, whatever the network did.
package lease

import (
	"fmt"
	"time"
)

// Timing is the lease's clock: how often hosts renew, how long until the
// leader may restart a silent host's VMs, and how early the host fences.
type Timing struct {
	// Heartbeat is how often a host renews its lease with the leader.
	Heartbeat time.Duration
	// Timeout is how long after its last renewal a host's VMs may be
	// restarted elsewhere.
	Timeout time.Duration
	// Grace is how long before Timeout the host fences itself.
	Grace time.Duration
}

// DefaultTiming is the production lease: a renewal every second, failover
// after ten.
func DefaultTiming() Timing {
	return Timing{Heartbeat: time.Second, Timeout: 10 * time.Second, Grace: GraceFor(10 * time.Second)}
}

// GraceFor is how long before its fence timeout a host fences itself: 35% of
// it, room for a slow clock, a late heartbeat and the destroys themselves
// before the leader restarts the VMs elsewhere.
func GraceFor(timeout time.Duration) time.Duration { return timeout * 35 / 100 }

// Validate checks the one rule all three parties rely on: four heartbeats fit
// in the timeout (a host is suspect after three missed ones, before it can be
// failed), and the host fences at least one heartbeat before the timeout.
func (t Timing) Validate() error {
	if t.Heartbeat <= 0 || t.Timeout < 4*t.Heartbeat || t.Grace < 0 || t.Grace >= t.Timeout-t.Heartbeat {
		return fmt.Errorf("fencing: need heartbeat interval > 0, fence timeout >= 4 heartbeats and grace < timeout - 1 heartbeat (got %v, %v, %v)",
			t.Heartbeat, t.Timeout, t.Grace)
	}
	return nil
}

// SuspectAfter is how long the leader may go without hearing from a host
// before it calls the host suspect.
func (t Timing) SuspectAfter() time.Duration { return 3 * t.Heartbeat }

// FailAfter is how long the leader goes without hearing from a host before
// the host has surely fenced itself: the leader then fails it over.
func (t Timing) FailAfter() time.Duration { return t.Timeout + t.Heartbeat }

// HostHolds is how long one renewal keeps the host's own lease, counted from
// when the host sent it: the host fences when it runs out.
func (t Timing) HostHolds() time.Duration { return t.Timeout - t.Grace }
