package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

// testInterval is the guard's interval in tests.
const testInterval = 10 * time.Millisecond

// fakeFencer records what the guard asks of it. block, when set, holds every
// action until it is closed; entered is poked when an action begins.
type fakeFencer struct {
	mu      sync.Mutex
	calls   []string // "destroy ID" or "suspend ID"
	fail    map[string]int
	block   chan struct{}
	entered chan struct{}
}

func newFakeFencer() *fakeFencer {
	return &fakeFencer{fail: map[string]int{}, entered: make(chan struct{}, 64)}
}

func (f *fakeFencer) do(ctx context.Context, op, id string) error {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+id)
	if f.fail[id] > 0 {
		f.fail[id]--
		return fmt.Errorf("fake %s %s failed", op, id)
	}
	return nil
}

func (f *fakeFencer) Destroy(ctx context.Context, id string) error { return f.do(ctx, "destroy", id) }
func (f *fakeFencer) Suspend(ctx context.Context, id string) error { return f.do(ctx, "suspend", id) }

// recorded returns the calls so far, sorted.
func (f *fakeFencer) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	slices.Sort(out)
	return out
}

// listFencer is a fakeFencer that also lists the host's domains.
type listFencer struct {
	*fakeFencer
	domains []hypervisor.Domain
}

func (f *listFencer) List(context.Context) ([]hypervisor.Domain, error) { return f.domains, nil }

// newTestLease opens a lease file in a temporary folder as the agent does.
func newTestLease(t *testing.T) *Lease {
	t.Helper()
	l, err := OpenLease(filepath.Join(t.TempDir(), "guard.lease"))
	if err != nil {
		t.Fatalf("OpenLease: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// runningGuard is a guard.Run in a goroutine of the test process.
type runningGuard struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// startGuard runs the guard on l's file with fencer and waits for its first
// heartbeat; the test's end stops it.
func startGuard(t *testing.T, l *Lease, fencer Fencer, watchdog string) *runningGuard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rg := &runningGuard{done: make(chan struct{}), cancel: cancel}
	cfg := Config{LeasePath: l.Path(), Fencer: fencer, Watchdog: watchdog, Interval: testInterval,
		RetryInterval: 5 * testInterval, ActionTimeout: 10 * time.Second, GiveUp: 30 * testInterval,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	go func() {
		rg.err = Run(ctx, cfg)
		close(rg.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-rg.done
	})
	waitFor(t, "the guard's first heartbeat", func() bool { return l.GuardAlive(time.Second) })
	return rg
}

// exited waits for the guard to return and gives its error.
func (rg *runningGuard) exited(t *testing.T) error {
	t.Helper()
	select {
	case <-rg.done:
		return rg.err
	case <-time.After(5 * time.Second):
		t.Fatal("guard did not exit")
		return nil
	}
}

// waitFor polls cond every millisecond (the guard's tests run at a 10 ms
// interval) until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.EventuallyEvery(t, 5*time.Second, time.Millisecond, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// waitBeats waits until the guard has written n more heartbeats: n more
// rounds of its loop, in which anything it was going to do it has done.
func waitBeats(t *testing.T, l *Lease, n int) {
	t.Helper()
	last := l.load(offHeartbeat)
	seen := 0
	waitFor(t, fmt.Sprintf("%d guard heartbeats", n), func() bool {
		if hb := l.load(offHeartbeat); hb != last {
			last, seen = hb, seen+1
		}
		return seen >= n
	})
}

// lapse sets the deadline just ahead, so the guard sees it pass.
func lapse(l *Lease) { l.Renew(time.Now().Add(2 * testInterval)) }

// waitEntered waits until an action has begun.
func (f *fakeFencer) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the guard began no fence action")
	}
}
