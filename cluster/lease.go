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

// hostLease is this agent's side of the lease. Every change of it happens in
// one of its methods, under its lock, so that the fence watcher, the host
// reconcilers and the renewal loop always see one consistent state.
type hostLease struct {
	// gate orders VM starts against a fence: a start holds it shared from its
	// lease check until the hypervisor call returns; a fence takes it
	// exclusively to set fenced, so it waits for a start under way and then
	// sees (and stops) the domain that start made.
	gate sync.RWMutex

	mu sync.Mutex
	// until is when the lease ends as this host counts it (monotonic clock);
	// zero before the first renewal.
	until  time.Time
	fenced bool
	// fenceDone is set once a fence has stopped every HA domain.
	fenceDone bool
	// changed wakes the fence watcher when until or fenced moves.
	changed chan struct{}
	// woken are the host reconcilers' wake-up channels, poked on every lease
	// gain: they then act on everything held back meanwhile.
	woken []chan struct{}
}

func newHostLease() *hostLease { return &hostLease{changed: make(chan struct{}, 1)} }

// subscribe returns a channel poked whenever the host gains its lease.
func (l *hostLease) subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.woken = append(l.woken, ch)
	l.mu.Unlock()
	return ch
}

// valid reports whether the host may run its HA VMs now.
func (l *hostLease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.fenced && time.Now().Before(l.until)
}

// isFenced reports whether a fence holds.
func (l *hostLease) isFenced() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fenced
}

// holdValid holds a fence off while the caller starts or resumes a domain, if
// the lease is valid; the caller must call the returned release. false: no
// lease, start nothing.
func (l *hostLease) holdValid() (release func(), ok bool) {
	l.gate.RLock()
	if !l.valid() {
		l.gate.RUnlock()
		return nil, false
	}
	return l.gate.RUnlock, true
}

// beginFence marks the host fenced once no start is under way; false when a
// fence already holds.
func (l *hostLease) beginFence() bool {
	l.gate.Lock()
	defer l.gate.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fenced {
		return false
	}
	l.fenced, l.fenceDone = true, false
	return true
}

// endFence records that the fence has stopped every HA domain.
func (l *hostLease) endFence() {
	l.mu.Lock()
	l.fenceDone = l.fenced
	l.mu.Unlock()
}

// renewed extends the lease to until and lifts a fence, then wakes the fence
// watcher and, on a gain (the first lease, or the end of a fence), the host
// reconcilers. It reports whether a fence was lifted.
func (l *hostLease) renewed(until time.Time) (unfenced bool) {
	l.mu.Lock()
	gained := l.fenced || l.until.IsZero()
	unfenced = l.fenced
	if until.After(l.until) {
		l.until = until
	}
	l.fenced, l.fenceDone = false, false
	woken := l.woken
	l.mu.Unlock()
	poke(l.changed)
	if gained {
		for _, ch := range woken {
			poke(ch)
		}
	}
	return unfenced
}

// safe reports whether the watchdog may be petted: the lease holds, or this
// host never had one yet (bootstrap), or its fence has finished. Only an agent
// that hangs, or a fence that does not finish, lets the kernel reset the host.
func (l *hostLease) safe() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until.IsZero() || (l.fenced && l.fenceDone) || (!l.fenced && time.Now().Before(l.until))
}

// poke wakes whoever waits on ch, without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
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

// suspectAfter is how long the leader may go without hearing from a host
// before it calls the host suspect.
func (a *Agent) suspectAfter() time.Duration { return 3 * a.cfg.HeartbeatInterval }

// failAfter is how long the leader goes without hearing from a host before
// the host has surely fenced itself: the leader then fails it over.
func (a *Agent) failAfter() time.Duration { return a.cfg.FenceTimeout + a.cfg.HeartbeatInterval }

// leaseLate reports whether the leader has not heard from node for longer
// than suspectAfter.
func (a *Agent) leaseLate(node string) bool {
	seen, _ := a.leases.seen(node)
	return time.Since(seen) > a.suspectAfter()
}

// heartbeat is the body of POST /internal/v1/heartbeat.
type heartbeat struct {
	Node string `json:"node"`
}

// leaseLoop renews this host's lease with the leader every HeartbeatInterval.
// After a fence, a renewal counts only once the local FSM has caught up
// (within one heartbeat), so the host acts on fresh state when it runs VMs
// again.
func (a *Agent) leaseLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.HeartbeatInterval)
	defer ticker.Stop()
	for {
		sent := time.Now()
		if err := a.renewLease(ctx); err != nil {
			a.logger.Debug("lease renewal failed", "error", err)
		} else if !a.lease.isFenced() || a.catchUp(ctx, a.cfg.HeartbeatInterval) == nil {
			if a.lease.renewed(sent.Add(a.cfg.FenceTimeout - a.cfg.FenceGrace)) {
				a.logger.Info("lease renewed: this host runs its VMs again")
			}
		}
		a.watchdog.pet(a.lease.safe())
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

// watchdog pets a watchdog device (softdog) while the host is safe (see
// hostLease.safe), so a host whose agent hangs, or whose fence does not
// finish, is reset by its kernel before the leader restarts its VMs elsewhere.
// Without a device it does nothing.
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

func (w *watchdog) pet(safe bool) {
	if w.f != nil && safe {
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
