// Package throttle slows down password guessing: it counts failed logins per
// key (the API keeps one Throttle keyed by user name and one keyed by source
// address) and, after a few free failures, locks the key for a time that
// doubles with each further failure, up to a cap.
//
// The state is in the memory of each node, not in Raft: a failed login must
// not cost a replicated write (that would let anyone load the log by typing
// wrong passwords), and an attacker who spreads guesses over the nodes gains
// at most a factor of the cluster's size, which the back-off soon outgrows.
// A restart forgets the counts; that is the price of keeping them local.
//
// Memory is bounded: at most Config.MaxKeys keys are held, and when full the
// key whose last failure is oldest is evicted. An attacker can therefore flush
// a victim's count by failing on many other keys, but only by out-failing the
// victim's own recent failures, and the source-address throttle still holds
// the attacker. Keys idle for Config.Forget are dropped lazily by the calls
// themselves, so no goroutine runs, and each call does O(1) work under one
// mutex, cheap next to the password check it guards.
package throttle

import (
	"container/list"
	"sync"
	"time"
)

// Config sets a Throttle's policy. Take DefaultConfig and change what is
// needed; New replaces values that make no sense (see New).
type Config struct {
	// Free is how many failures a key may have before any lock.
	Free int
	// Base is the lock after the first failure beyond Free; each further
	// failure doubles it.
	Base time.Duration
	// Max caps the lock, so that a legitimate user locked out by someone
	// else's guessing gets back in within this time.
	Max time.Duration
	// Forget drops a key with no failure for this long, restarting its count.
	Forget time.Duration
	// MaxKeys bounds the keys held, and so the memory used.
	MaxKeys int
	// Now reads the clock; tests set a fake one.
	Now func() time.Time
}

// DefaultConfig returns the policy for logins: 5 free failures, then locks
// of 1s, 2s, 4s, ... up to 15 minutes; a key is forgotten after an hour
// without failure; at most 100,000 keys (about 20 MB with short keys).
func DefaultConfig() Config {
	return Config{
		Free:    5,
		Base:    time.Second,
		Max:     15 * time.Minute,
		Forget:  time.Hour,
		MaxKeys: 100_000,
		Now:     time.Now,
	}
}

// Throttle counts failures per key. It is safe for concurrent use.
type Throttle struct {
	cfg Config

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	// order holds the entries by last failure, most recent at the front, so
	// that the back is both the next to expire and the one to evict.
	order *list.List
}

type entry struct {
	key         string
	failures    int
	lastFail    time.Time
	lockedUntil time.Time
}

// pruneBatch is how many expired keys one call drops at most: more than one,
// so that pruning outpaces the one key a call may add, and few, so that no
// call pays for a large backlog at once.
const pruneBatch = 4

// New returns an empty Throttle. Zero or negative values in cfg take the
// defaults (Free may be 0: lock from the first failure), Max below Base is
// raised to Base, and Forget below Max is raised to Max, so that no key is
// forgotten while still locked.
func New(cfg Config) *Throttle {
	def := DefaultConfig()
	cfg.Free = max(cfg.Free, 0)
	if cfg.Base <= 0 {
		cfg.Base = def.Base
	}
	if cfg.Max <= 0 {
		cfg.Max = def.Max
	}
	cfg.Max = max(cfg.Max, cfg.Base)
	if cfg.Forget <= 0 {
		cfg.Forget = def.Forget
	}
	cfg.Forget = max(cfg.Forget, cfg.Max)
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = def.MaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	return &Throttle{cfg: cfg, entries: make(map[string]*list.Element), order: list.New()}
}

// Allow reports whether an attempt for key may proceed now and, if not, how
// long until it may (for a Retry-After header). It records nothing: the
// caller reports the outcome with Fail or Succeed.
func (t *Throttle) Allow(key string) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	t.prune(now)
	e := t.lookup(key, now)
	if e == nil || !now.Before(e.lockedUntil) {
		return 0, true
	}
	return e.lockedUntil.Sub(now), false
}

// Fail records a failed attempt for key. Beyond Free failures each one locks
// the key for Base*2^(n-Free-1) (n counting this one), capped at Max; lockedFor
// is the lock now in force, from now. lockedNow is true when this failure
// locked a key that was not locked, so that the caller audits each lockout
// once; a failure during a lock (two attempts that passed Allow together)
// lengthens it without reporting it again.
func (t *Throttle) Fail(key string) (lockedFor time.Duration, lockedNow bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	t.prune(now)
	el, found := t.entries[key]
	if found && t.expired(el.Value.(*entry), now) {
		t.remove(el)
		found = false
	}
	if !found {
		if t.order.Len() >= t.cfg.MaxKeys {
			t.remove(t.order.Back())
		}
		el = t.order.PushFront(&entry{key: key})
		t.entries[key] = el
	}
	t.order.MoveToFront(el)
	e := el.Value.(*entry)
	e.failures++
	e.lastFail = now
	wasLocked := now.Before(e.lockedUntil)
	if e.failures <= t.cfg.Free {
		return 0, false
	}
	if until := now.Add(t.lockFor(e.failures)); until.After(e.lockedUntil) {
		e.lockedUntil = until
	}
	return e.lockedUntil.Sub(now), !wasLocked
}

// Succeed forgets key, after a successful login: its past failures were the
// user's own typing.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.remove(el)
	}
}

// Len returns the number of keys held, for a metrics gauge. It may count
// keys that are idle beyond Forget and not yet dropped.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}

// lockFor returns the lock after the n-th failure (n > Free).
func (t *Throttle) lockFor(n int) time.Duration {
	shift := n - t.cfg.Free - 1
	// Base<<shift > Max exactly when Base > Max>>shift; testing it this way
	// round cannot overflow.
	if shift >= 63 || t.cfg.Base > t.cfg.Max>>shift {
		return t.cfg.Max
	}
	return t.cfg.Base << shift
}

// lookup returns key's entry, dropping it if expired.
func (t *Throttle) lookup(key string, now time.Time) *entry {
	el, ok := t.entries[key]
	if !ok {
		return nil
	}
	if e := el.Value.(*entry); !t.expired(e, now) {
		return e
	}
	t.remove(el)
	return nil
}

// expired reports whether e's last failure is Forget old. Since Forget >= Max,
// an expired entry is never locked.
func (t *Throttle) expired(e *entry, now time.Time) bool {
	return now.Sub(e.lastFail) >= t.cfg.Forget
}

// prune drops up to pruneBatch expired entries from the back of the order,
// where the oldest failures are.
func (t *Throttle) prune(now time.Time) {
	for range pruneBatch {
		el := t.order.Back()
		if el == nil || !t.expired(el.Value.(*entry), now) {
			return
		}
		t.remove(el)
	}
}

func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*entry).key)
	t.order.Remove(el)
}
