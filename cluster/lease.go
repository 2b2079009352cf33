package cluster

import (
	"context"
	"os"
	"sync"
	"time"
)

// Fencing by lease. Every host renews a lease with the leader every
// HeartbeatInterval. The host counts its lease from the moment it sent the
// renewal (before the leader saw it), and fences itself FenceGrace before the
// lease would end: it stops its HA VMs and starts nothing until it renews
// again. The leader counts from when it received the renewal, and restarts a
// host's VMs elsewhere only once FenceTimeout plus one heartbeat has passed
// since then (or since it became leader, if it never heard from the host). So
// the host has surely fenced before its VMs start anywhere else, whatever the
// network did.

// hostLease is this agent's side of the lease.
type hostLease struct {
	mu sync.Mutex
	// until is when the lease ends as this host counts it (monotonic clock).
	until  time.Time
	fenced bool
	// changed wakes the fence watcher when until moves.
	changed chan struct{}
	// gained is closed when the host (re)gains its lease, and replaced by a
	// fence: host reconcilers then look at everything again.
	gained chan struct{}
}

func newHostLease() *hostLease {
	return &hostLease{changed: make(chan struct{}, 1), gained: make(chan struct{})}
}

// gainedCh returns the channel closed at the next (or last) lease gain.
func (l *hostLease) gainedCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gained
}

// valid reports whether the host may run its HA VMs now.
func (l *hostLease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.fenced && time.Now().Before(l.until)
}

func (l *hostLease) extend(until time.Time) {
	l.mu.Lock()
	if until.After(l.until) {
		l.until = until
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// leaderLeases is the leader's memory of when it last heard from each host.
type leaderLeases struct {
	mu    sync.Mutex
	last  map[string]time.Time
	since time.Time // when this node became leader
}

func newLeaderLeases() *leaderLeases { return &leaderLeases{last: map[string]time.Time{}} }

// reset starts a term: a new leader knows nothing of earlier renewals.
func (l *leaderLeases) reset(now time.Time) {
	l.mu.Lock()
	l.last, l.since = map[string]time.Time{}, now
	l.mu.Unlock()
}

func (l *leaderLeases) renew(node string, at time.Time) {
	l.mu.Lock()
	l.last[node] = at
	l.mu.Unlock()
}

// seen returns when the leader last heard from node, or when it became leader
// if later (it cannot know what the previous leader heard), and the renewal
// itself (zero if none this term).
func (l *leaderLeases) seen(node string) (seen, renewal time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	renewal = l.last[node]
	seen = renewal
	if l.since.After(seen) {
		seen = l.since
	}
	return seen, renewal
}

// heartbeat is the body of POST /internal/v1/heartbeat.
type heartbeat struct {
	Node string `json:"node"`
}

// leaseLoop renews this host's lease with the leader every HeartbeatInterval.
// After a fence, a renewal counts only once the local FSM has caught up, so
// the host acts on fresh state when it runs VMs again.
func (a *Agent) leaseLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.HeartbeatInterval)
	defer ticker.Stop()
	for {
		sent := time.Now()
		if err := a.renewLease(ctx); err != nil {
			a.logger.Debug("lease renewal failed", "error", err)
		} else {
			a.lease.mu.Lock()
			fenced := a.lease.fenced
			a.lease.mu.Unlock()
			if !fenced || a.catchUpOnce(ctx) {
				a.lease.extend(sent.Add(a.cfg.FenceTimeout - a.cfg.FenceGrace))
				a.unfence()
			}
		}
		a.watchdog.pet(a.lease.valid())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (a *Agent) renewLease(ctx context.Context) error {
	if a.IsLeader() {
		a.leases.renew(a.cfg.NodeID, time.Now())
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.HeartbeatInterval)
	defer cancel()
	return a.forwarder.callJSON(cctx, "POST", "/internal/v1/heartbeat", heartbeat{Node: a.cfg.NodeID}, nil)
}

// catchUpOnce waits, for at most one heartbeat interval, until the local FSM
// has applied what the leader has committed.
func (a *Agent) catchUpOnce(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, a.cfg.HeartbeatInterval)
	defer cancel()
	idx, err := a.ConsistentIndex(cctx)
	if err == nil {
		err = a.fsm.WaitForIndex(cctx, idx)
	}
	return err == nil
}

// fenceLoop fences the host the moment its lease ends.
func (a *Agent) fenceLoop(ctx context.Context) {
	for {
		a.lease.mu.Lock()
		until, fenced := a.lease.until, a.lease.fenced
		a.lease.mu.Unlock()
		wait := time.Until(until)
		if !fenced && !until.IsZero() && wait <= 0 {
			a.fence(ctx)
			continue
		}
		if until.IsZero() || fenced {
			wait = time.Hour
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-a.lease.changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// watchdog pets a watchdog device (softdog) while the lease is valid, so a
// host whose agent hangs is reset by its kernel before the leader restarts its
// VMs elsewhere. Without a device it does nothing.
type watchdog struct {
	f *os.File
}

func openWatchdog(path string) (*watchdog, error) {
	if path == "" {
		return &watchdog{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return &watchdog{f: f}, nil
}

func (w *watchdog) pet(leaseValid bool) {
	if w.f != nil && leaseValid {
		w.f.Write([]byte{'1'})
	}
}

// close disarms the watchdog on a clean stop (the magic close character).
func (w *watchdog) close() {
	if w.f != nil {
		w.f.Write([]byte{'V'})
		w.f.Close()
	}
}
