package host

import (
	"context"
	"sync"
	"time"
)

// The host's side of the fencing lease (see package lease for the rule): it
// renews every heartbeat, counts its lease from the moment it sent the
// renewal, and fences itself when the lease runs out.

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

// whileUnfinishedFence runs fn if a fence holds that has not stopped every
// HA domain yet, with starts held off as beginFence does.
func (l *hostLease) whileUnfinishedFence(fn func()) {
	l.gate.Lock()
	defer l.gate.Unlock()
	l.mu.Lock()
	unfinished := l.fenced && !l.fenceDone
	l.mu.Unlock()
	if unfinished {
		fn()
	}
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

// leaseLoop renews this host's lease with the leader every heartbeat.
// After a fence, a renewal counts only once the local FSM has caught up
// (within one heartbeat), so the host acts on fresh state when it runs VMs
// again.
func (a *Host) leaseLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.Lease.Heartbeat)
	defer ticker.Stop()
	for {
		sent := time.Now()
		guarded := a.checkGuard(ctx)
		if err := a.cluster.RenewLease(ctx); err != nil {
			a.logger.Debug("lease renewal failed", "error", err)
		} else if guarded && (!a.lease.isFenced() || a.cluster.CatchUp(ctx, a.cfg.Lease.Heartbeat) == nil) {
			until := sent.Add(a.cfg.Lease.HostHolds())
			if a.guard != nil {
				a.guard.renew(until)
			}
			if a.lease.renewed(until) {
				a.logger.Info("lease renewed: this host runs its VMs again")
			}
		}
		a.watchdog.Pet(a.lease.safe())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// fenceLoop fences the host the moment its lease ends, and tries a fence
// that did not stop everything again every heartbeat until it does or the
// lease comes back.
func (a *Host) fenceLoop(ctx context.Context) {
	for {
		a.lease.mu.Lock()
		until, fenced, done := a.lease.until, a.lease.fenced, a.lease.fenceDone
		a.lease.mu.Unlock()
		wait := time.Until(until)
		retry := fenced && !done
		switch {
		case !fenced && !until.IsZero() && wait <= 0:
			a.fence(ctx)
			continue
		case retry:
			wait = a.cfg.Lease.Heartbeat
		case until.IsZero() || fenced:
			wait = time.Hour
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-a.lease.changed:
		case <-timer.C:
			if retry {
				a.lease.whileUnfinishedFence(func() {
					a.logger.Warn("the fence did not stop every HA domain: trying again")
					a.stopHA(ctx)
				})
			}
		}
		timer.Stop()
	}
}

// checkGuard reports whether the host is guarded (or needs no guard). A
// guard that died or hangs cannot fence for a hung agent, so the agent fences
// at once, by itself, and starts another; renewals count again once one
// beats.
func (a *Host) checkGuard(ctx context.Context) bool {
	if a.guard == nil || a.guard.alive() {
		return true
	}
	a.logger.Error("the fencing guard is dead or hangs: fencing this host's HA VMs and starting another guard")
	a.fence(ctx)
	if err := a.guard.restart(); err != nil {
		a.logger.Error("starting the fencing guard again", "error", err)
		return false
	}
	return a.guard.alive()
}
