package pgexport

import (
	"log/slog"
	"sync"
	"time"
)

// Status is how an export stands, for /metrics and the "PostgreSQL export
// lagging" alert. The Leader fills every field; the Host has no high water
// mark and leaves HighWater, Applied, Lag and Resyncs at zero.
type Status struct {
	// Running: Run is running (the Leader's only while this node leads).
	Running bool
	// HighWater is the Raft index up to which PostgreSQL holds the
	// cluster's events, as this exporter last read or wrote it.
	HighWater uint64
	// Applied is the last index this node applied, as the journal said.
	Applied uint64
	// Lag is Applied minus HighWater, 0 when PostgreSQL is ahead (a new
	// leader still catching up its own FSM).
	Lag uint64
	// Exported counts the event rows (Leader) or metric rows (Host)
	// written since the exporter was made.
	Exported uint64
	// Resyncs counts the full resynchronisations of the objects.
	Resyncs uint64
	// LastError is the last failure, kept until the next success.
	LastError   string
	LastErrorAt time.Time
	// LastExportAt is when a write last succeeded.
	LastExportAt time.Time
	// Connected: the last call to PostgreSQL succeeded.
	Connected bool
}

// tracker keeps a Status and logs failures without flooding the log: a
// database that is down fails every retry, and one line a minute says as
// much as one per retry.
type tracker struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	st         Status
	loggedAt   time.Time // when a failure was last logged
	suppressed int       // failures since, not logged
	downSince  time.Time // the first failure after a success
}

// errorLogEvery is how often a failure that keeps happening is logged.
const errorLogEvery = time.Minute

func (t *tracker) status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

func (t *tracker) update(fn func(*Status)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn(&t.st)
	t.st.Lag = 0
	if t.st.Applied > t.st.HighWater {
		t.st.Lag = t.st.Applied - t.st.HighWater
	}
}

// failed records err (what was being done: what) and logs it unless a
// failure was logged less than errorLogEvery ago.
func (t *tracker) failed(what string, err error) {
	now := t.now()
	t.mu.Lock()
	t.st.LastError, t.st.LastErrorAt, t.st.Connected = what+": "+err.Error(), now, false
	if t.downSince.IsZero() {
		t.downSince = now
	}
	logIt := t.loggedAt.IsZero() || now.Sub(t.loggedAt) >= errorLogEvery
	suppressed := t.suppressed
	if logIt {
		t.loggedAt, t.suppressed = now, 0
	} else {
		t.suppressed++
	}
	t.mu.Unlock()
	if logIt {
		t.log.Warn("PostgreSQL export failed; retrying", "during", what, "error", err, "failures_not_logged", suppressed)
	}
}

// succeeded records a successful write (wrote: it wrote, not only read)
// and logs the recovery after a failure.
func (t *tracker) succeeded(wrote bool) {
	now := t.now()
	t.mu.Lock()
	t.st.Connected = true
	t.st.LastError, t.st.LastErrorAt = "", time.Time{}
	if wrote {
		t.st.LastExportAt = now
	}
	down := t.downSince
	t.downSince, t.loggedAt, t.suppressed = time.Time{}, time.Time{}, 0
	t.mu.Unlock()
	if !down.IsZero() {
		t.log.Info("PostgreSQL export resumed", "failing_for", now.Sub(down).Round(time.Millisecond))
	}
}

// backoff is the wait between retries: 100 ms doubling up to its cap.
type backoff struct {
	cap  time.Duration
	next time.Duration
}

const firstBackoff = 100 * time.Millisecond

// wait returns the next wait and doubles the one after.
func (b *backoff) wait() time.Duration {
	if b.next <= 0 {
		b.next = firstBackoff
	}
	d := min(b.next, b.cap)
	b.next = min(2*b.next, b.cap)
	return d
}

func (b *backoff) reset() { b.next = 0 }
