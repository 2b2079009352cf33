package metricstore

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// t0 is where synthetic histories start; whole days since the epoch, so
// every tier's buckets start on it.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// vmFields is what a VM series looks like in production: 12 fields.
var vmFields = []string{
	"cpu_percent", "vcpu_steal_percent", "mem_used_bytes", "mem_total_bytes",
	"disk_read_bytes_per_s", "disk_write_bytes_per_s", "disk_read_ops_per_s", "disk_write_ops_per_s",
	"net_rx_bytes_per_s", "net_tx_bytes_per_s", "net_rx_packets_per_s", "net_tx_packets_per_s",
}

// newTestStore opens a store in dir (a new temporary one if empty) with a
// clock at t0, closed when the test ends.
func newTestStore(t testing.TB, dir string, opts Options) (*Store, *testutil.Clock, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	clk := testutil.NewClock(t0)
	opts.Now = clk.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s, clk, dir
}

// writeEvery writes key every `every` over [from, to), moving the clock with
// the samples as a live host would.
func writeEvery(t testing.TB, s *Store, clk *testutil.Clock, key string, fields []string, from, to time.Time, every time.Duration, value func(time.Time) []float64) {
	t.Helper()
	for at := from; at.Before(to); at = at.Add(every) {
		clk.Set(at)
		if err := s.Write(key, fields, at, value(at)); err != nil {
			t.Fatalf("Write %s at %s: %v", key, at, err)
		}
	}
}

// constant returns a value function giving v for every field of n.
func constant(n int, v float64) func(time.Time) []float64 {
	return func(time.Time) []float64 {
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = v
		}
		return vals
	}
}

// queryTier reads tier ti directly at step (a multiple of its resolution),
// so a test can look at what each tier holds whatever Query would choose.
func queryTier(t testing.TB, s *Store, key string, ti int, from, to time.Time, step time.Duration) Result {
	t.Helper()
	st := int64(step / time.Second)
	if st%tiers[ti].res != 0 {
		t.Fatalf("step %s is not a multiple of tier %d", step, ti)
	}
	p := queryPlan{tier: ti, step: st, first: from.Unix() - from.Unix()%st}
	p.n = int(ceilDiv(to.Unix()-p.first, st))
	ser, err := s.acquire(key, nil)
	if err != nil {
		t.Fatalf("acquire %s: %v", key, err)
	}
	defer ser.mu.Unlock()
	r, err := ser.query(p)
	if err != nil {
		t.Fatalf("query tier %d: %v", ti, err)
	}
	return r
}

// pointAt finds the point starting at `at`.
func pointAt(t testing.TB, r Result, at time.Time) Point {
	t.Helper()
	for _, p := range r.Points {
		if p.At.Equal(at) {
			return p
		}
	}
	t.Fatalf("no point at %s (step %s, %d points)", at, r.Step, len(r.Points))
	return Point{}
}

// near compares floats at the precision the store keeps (float32).
func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b))
}

// present counts the points where field j was recorded.
func present(r Result, j int) int {
	n := 0
	for _, p := range r.Points {
		if !math.IsNaN(p.Avg[j]) {
			n++
		}
	}
	return n
}

// mustJSON renders a result, which also compares NaN-holding results.
func mustJSON(t testing.TB, r Result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(b)
}
