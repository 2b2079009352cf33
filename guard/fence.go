package guard

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/novacron/novacron/hypervisor"
)

// fenceResult is what one fence did, for the guard loop.
type fenceResult struct {
	deadline int64
	acted    int // domains destroyed or paused (or found gone)
	failed   int // actions or listings that failed
}

// maybeFence starts a fence when the deadline has passed and its lapse is not
// fenced yet, unless one is under way or the last one failed too recently.
func (g *guard) maybeFence(ctx context.Context, now int64) {
	if g.running {
		return
	}
	deadline := g.l.load(offDeadline)
	if deadline == 0 || now < deadline || g.l.load(offFencedDeadline) == deadline {
		return
	}
	if g.lastFail != 0 && g.failedFor == deadline && now-g.lastFail < int64(g.cfg.RetryInterval) {
		return
	}
	g.running = true
	g.l.store(offFencing, deadline)
	g.logger.Warn("lease deadline passed: fencing this host's HA domains",
		"late_ms", (now-deadline)/1e6, "owner", g.l.load(offOwnerPID), "listed", len(g.domains))
	// A fence under way is finished even when the guard is told to stop: half
	// a fence protects nothing.
	fctx := context.WithoutCancel(ctx)
	doms := g.domains // replaced, never changed in place
	go func() { g.done <- g.fence(fctx, deadline, doms) }()
}

// finish records a fence's outcome in the lease file.
func (g *guard) finish(r fenceResult) {
	g.running = false
	g.l.store(offFencing, 0)
	if r.failed > 0 {
		g.lastFail, g.failedFor = MonotonicNow(), r.deadline
		g.logger.Error("fence incomplete; retrying", "acted", r.acted, "failed", r.failed, "retry_in", g.cfg.RetryInterval)
		return
	}
	g.lastFail = 0
	g.l.store(offFencedDeadline, r.deadline)
	g.l.add(offFences, 1)
	g.logger.Warn("fence complete", "acted", r.acted)
}

// fence stops every listed destroy or pause domain at once (one libvirt
// destroy can take seconds, and the last must be done before the leader
// restarts them elsewhere) and, with a Lister, every running managed domain
// the list does not name.
func (g *guard) fence(ctx context.Context, deadline int64, doms map[string]Domain) fenceResult {
	var wg sync.WaitGroup
	var acted, failed atomic.Int32
	act := func(d Domain) {
		defer wg.Done()
		actx, cancel := context.WithTimeout(ctx, g.cfg.ActionTimeout)
		defer cancel()
		var err error
		if d.Action == ActionPause {
			err = g.cfg.Fencer.Suspend(actx, d.ID)
		} else {
			err = g.cfg.Fencer.Destroy(actx, d.ID)
		}
		if err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			failed.Add(1)
			g.logger.Error("fencing a domain failed", "id", d.ID, "domain", d.Name, "action", d.Action, "error", err)
			return
		}
		acted.Add(1)
		g.logger.Warn("fenced domain", "id", d.ID, "domain", d.Name, "action", d.Action, "error", err)
	}
	for _, d := range doms {
		if d.Action != ActionKeep {
			wg.Add(1)
			go act(d)
		}
	}
	if lister, ok := g.cfg.Fencer.(Lister); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, g.cfg.ActionTimeout)
			defer cancel()
			found, err := lister.List(lctx)
			if err != nil {
				failed.Add(1)
				g.logger.Error("fencing: cannot list domains", "error", err)
				return
			}
			for _, dom := range found {
				if _, listed := doms[dom.ID]; listed {
					continue
				}
				if dom.State == hypervisor.StateRunning || dom.State == hypervisor.StatePaused {
					wg.Add(1)
					go act(Domain{ID: dom.ID, Name: dom.Name, Action: ActionDestroy})
				}
			}
		}()
	}
	wg.Wait()
	return fenceResult{deadline: deadline, acted: int(acted.Load()), failed: int(failed.Load())}
}

// pidAlive reports whether process pid exists and is not a zombie. A pid
// reused by another process reads alive: the guard then waits for the
// deadline, and fences, which is the safe side.
func pidAlive(pid int64) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(int(pid), 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.FormatInt(pid, 10) + "/stat")
	if err != nil {
		return true // no /proc: kill(0) is all we know
	}
	// "pid (comm) S ...": comm may hold anything, so look after the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		switch stat[i+2] {
		case 'Z', 'X':
			return false
		}
	}
	return true
}
