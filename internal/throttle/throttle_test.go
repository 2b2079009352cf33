package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand; safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestThrottle returns a Throttle with the default policy, changed by
// mod if not nil, on a fake clock.
func newTestThrottle(mod func(*Config)) (*Throttle, *fakeClock) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := DefaultConfig()
	cfg.Now = clock.Now
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), clock
}

func mustAllow(t *testing.T, th *Throttle, key string) {
	t.Helper()
	if wait, ok := th.Allow(key); !ok {
		t.Fatalf("Allow(%q) refused, wait %v", key, wait)
	}
}

func TestFail_FreeFailuresDoNotLock(t *testing.T) {
	th, _ := newTestThrottle(nil)
	for i := range 5 {
		if d, locked := th.Fail("alice"); d != 0 || locked {
			t.Fatalf("failure %d locked for %v (%v)", i+1, d, locked)
		}
		mustAllow(t, th, "alice")
	}
	if d, locked := th.Fail("alice"); d != time.Second || !locked {
		t.Fatalf("6th failure: locked for %v (%v), want 1s, true", d, locked)
	}
}

func TestFail_LockGrowsThenCaps(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) { c.Free = 2 })
	th.Fail("alice")
	th.Fail("alice")
	want := time.Second
	for i := range 20 {
		d, locked := th.Fail("alice")
		if d != want || !locked {
			t.Fatalf("failure %d beyond the free ones: locked for %v (%v), want %v, true", i+1, d, locked, want)
		}
		clock.Advance(d) // the lock is over; the next failure starts another
		mustAllow(t, th, "alice")
		want = min(2*want, 15*time.Minute)
	}
	if want != 15*time.Minute {
		t.Fatalf("the test did not reach the cap: %v", want)
	}
}

func TestFail_HugeCountDoesNotOverflow(t *testing.T) {
	th, _ := newTestThrottle(func(c *Config) { c.Free = 0; c.Base = time.Hour; c.Max = time.Duration(1<<63 - 1) })
	for _, n := range []int{1, 2, 40, 62, 63, 64, 200} {
		if d := th.lockFor(n); d <= 0 || d > th.cfg.Max {
			t.Errorf("lockFor(%d) = %v", n, d)
		}
	}
}

func TestAllow_DuringLockGivesRemainingWait(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) { c.Free = 0; c.Base = 10 * time.Second })
	if _, locked := th.Fail("alice"); !locked {
		t.Fatal("Free 0: the first failure did not lock")
	}
	clock.Advance(3 * time.Second)
	if wait, ok := th.Allow("alice"); ok || wait != 7*time.Second {
		t.Fatalf("Allow 3s into a 10s lock = %v, %v; want 7s, false", wait, ok)
	}
	mustAllow(t, th, "bob") // other keys are not locked
	clock.Advance(7 * time.Second)
	mustAllow(t, th, "alice")
}

func TestFail_DuringLockLengthensWithoutNewLockout(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) { c.Free = 0; c.Base = 10 * time.Second })
	th.Fail("alice")
	clock.Advance(time.Second)
	d, locked := th.Fail("alice") // an attempt that passed Allow with the first
	if d != 20*time.Second || locked {
		t.Fatalf("failure during a lock = %v, %v; want 20s, false", d, locked)
	}
	if wait, _ := th.Allow("alice"); wait != 20*time.Second {
		t.Fatalf("Allow waits %v, want 20s", wait)
	}
}

func TestSucceed_ClearsKey(t *testing.T) {
	th, _ := newTestThrottle(func(c *Config) { c.Free = 1 })
	th.Fail("alice")
	th.Fail("alice")
	th.Fail("bob")
	th.Succeed("alice")
	mustAllow(t, th, "alice")
	if d, locked := th.Fail("alice"); d != 0 || locked {
		t.Fatalf("after Succeed the first failure locked for %v", d)
	}
	if th.Len() != 2 {
		t.Fatalf("Len %d, want 2 (alice again, bob)", th.Len())
	}
	th.Succeed("carol") // unknown keys are fine
}

func TestThrottle_ForgetsIdleKeys(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) { c.Free = 2; c.Forget = time.Hour })
	th.Fail("alice")
	th.Fail("alice")
	clock.Advance(time.Hour - time.Second)
	th.Fail("bob")
	clock.Advance(time.Second) // alice idle for an hour, bob for a second
	if d, locked := th.Fail("alice"); d != 0 || locked {
		t.Fatalf("alice's third failure after an idle hour locked for %v: old failures were kept", d)
	}
	if th.Len() != 2 {
		t.Fatalf("Len %d, want 2", th.Len())
	}
	clock.Advance(2 * time.Hour)
	mustAllow(t, th, "nobody") // any call prunes the idle keys
	if th.Len() != 0 {
		t.Fatalf("Len %d after two idle hours, want 0", th.Len())
	}
}

func TestNew_ForgetNotBeforeLockEnds(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) {
		c.Free, c.Base, c.Max, c.Forget = 0, time.Hour, time.Hour, time.Minute
	})
	th.Fail("alice")
	clock.Advance(30 * time.Minute)
	if _, ok := th.Allow("alice"); ok {
		t.Fatal("a key was forgotten, and so unlocked, during its lock")
	}
}

func TestThrottle_MaxKeysEvictsLeastRecentlyFailed(t *testing.T) {
	th, clock := newTestThrottle(func(c *Config) { c.Free = 0; c.MaxKeys = 100 })
	th.Fail("victim")
	clock.Advance(time.Millisecond)
	th.Fail("old")
	clock.Advance(time.Millisecond)
	th.Fail("victim") // victim failed again: now more recent than old
	for i := range 98 {
		th.Fail(fmt.Sprintf("filler-%d", i))
	}
	if th.Len() != 100 {
		t.Fatalf("Len %d, want 100", th.Len())
	}
	th.Fail("newcomer")
	if th.Len() != 100 {
		t.Fatalf("Len %d after one more key, want the bound 100", th.Len())
	}
	mustAllow(t, th, "old") // evicted, so forgotten
	if _, ok := th.Allow("victim"); ok {
		t.Error("the recently failed key was evicted instead of the oldest")
	}
	for i := range 10_000 {
		th.Fail(fmt.Sprintf("flood-%d", i))
	}
	if th.Len() != 100 || len(th.entries) != 100 {
		t.Fatalf("after a flood of keys: Len %d, map %d; want 100", th.Len(), len(th.entries))
	}
}

func TestNew_FixesNonsense(t *testing.T) {
	th := New(Config{Free: -3, Base: -1, Max: time.Millisecond})
	c := th.cfg
	if c.Free != 0 || c.Base != time.Second || c.Max != time.Second || c.Forget != time.Hour || c.MaxKeys != 100_000 || c.Now == nil {
		t.Fatalf("New made %+v, want Free 0, Base and Max 1s, Forget 1h, MaxKeys 100000, a clock", c)
	}
}

func TestThrottle_ConcurrentUse(t *testing.T) {
	// Run with -race: many goroutines on shared and own keys, over a small
	// MaxKeys so that evictions happen, while the clock moves.
	th, clock := newTestThrottle(func(c *Config) { c.Free = 3; c.MaxKeys = 50 })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("user-%d", (g*7+i)%80)
				if i%3 == 0 {
					key = "shared"
				}
				th.Allow(key)
				if i%10 == 9 {
					th.Succeed(key)
				} else {
					th.Fail(key)
				}
				if i%50 == 0 {
					clock.Advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
	if n := th.Len(); n > 50 || n != len(th.entries) {
		t.Fatalf("Len %d, map %d; want equal and at most 50", n, len(th.entries))
	}
}
