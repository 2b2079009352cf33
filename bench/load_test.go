package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator is shared by the baseline and NovaCron, so that the two
// sets of figures differ only in what one write costs.

// writeFunc performs one write as client worker and returns once it has been
// acknowledged (nil) or refused (an error). seq is unique in the process.
type writeFunc func(ctx context.Context, worker int, seq uint64) error

// loadStats is the outcome of one runLoad.
type loadStats struct {
	Clients  int
	Ops      int // acknowledged writes
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	// Latencies are those of the acknowledged writes, sorted.
	Latencies []time.Duration
}

// writeSeq numbers every write of the process, so that names never repeat.
var writeSeq atomic.Uint64

// runLoad sends total writes from clients concurrent workers, each starting its
// next write as soon as its previous one is answered (a closed loop), and
// measures each write from the call to the answer.
func runLoad(ctx context.Context, clients, total int, write writeFunc) loadStats {
	var (
		next    atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
		st      = loadStats{Clients: clients}
		perWork = make([][]time.Duration, clients)
	)
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, total/clients+1)
			for next.Add(1) <= int64(total) && ctx.Err() == nil {
				t0 := time.Now()
				err := write(ctx, w, writeSeq.Add(1))
				d := time.Since(t0)
				if err != nil {
					mu.Lock()
					st.Errors++
					if st.FirstErr == nil {
						st.FirstErr = err
					}
					mu.Unlock()
					continue
				}
				lat = append(lat, d)
			}
			perWork[w] = lat
		}()
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	for _, l := range perWork {
		st.Latencies = append(st.Latencies, l...)
	}
	slices.Sort(st.Latencies)
	st.Ops = len(st.Latencies)
	return st
}

// WritesPerSec is acknowledged writes per second of wall time.
func (s loadStats) WritesPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p <= 100) of the latencies by the
// nearest-rank method, 0 when there are none.
func (s loadStats) Percentile(p float64) time.Duration {
	return percentile(s.Latencies, p)
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// ms is d in milliseconds, as a float for ReportMetric.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchLoad runs b.N writes from clients workers as one benchmark iteration
// each, and reports writes/s, p50-ms, p99-ms and errors. It fails the benchmark
// when more than 1% of the writes were refused.
func benchLoad(b *testing.B, clients int, write writeFunc) loadStats {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	st := runLoad(ctx, clients, b.N, write)
	b.StopTimer()
	b.ReportMetric(st.WritesPerSec(), "writes/s")
	b.ReportMetric(ms(st.Percentile(50)), "p50-ms")
	b.ReportMetric(ms(st.Percentile(99)), "p99-ms")
	b.ReportMetric(float64(st.Errors), "errors")
	if st.Errors > 0 {
		b.Logf("N=%d clients=%d: %d of %d writes refused, first: %v", b.N, clients, st.Errors, b.N, st.FirstErr)
	}
	if st.Errors*100 > b.N {
		b.Fatalf("%d of %d writes refused; first error: %v", st.Errors, b.N, st.FirstErr)
	}
	return st
}

// retryInterval is how long the failover client waits between attempts.
const retryInterval = 20 * time.Millisecond

// firstWriteAfter retries attempt every retryInterval (cycling over the
// surviving nodes through try's argument) until one write is acknowledged, and
// returns the time from since to that acknowledgement.
func firstWriteAfter(ctx context.Context, since time.Time, attempt func(ctx context.Context, try int) error) (time.Duration, error) {
	var last error
	for try := 0; ; try++ {
		err := attempt(ctx, try)
		if err == nil {
			return time.Since(since), nil
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no write accepted after %v: %w", time.Since(since).Round(time.Millisecond), errors.Join(ctx.Err(), last))
		case <-time.After(retryInterval):
		}
	}
}

// reportRounds reports the median and the worst of repeated failover rounds,
// and the wall time per round as ns/op (the benchmark ignores b.N past one
// call: a round takes seconds).
func reportRounds(b *testing.B, rounds []time.Duration, elapsed time.Duration) {
	b.Helper()
	sorted := slices.Clone(rounds)
	slices.Sort(sorted)
	b.ReportMetric(ms(percentile(sorted, 50)), "failover-ms")
	b.ReportMetric(ms(sorted[len(sorted)-1]), "failover-max-ms")
	b.ReportMetric(float64(len(sorted)), "rounds")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(sorted)), "ns/op")
	parts := make([]string, len(rounds))
	for i, r := range rounds {
		parts[i] = r.Round(time.Millisecond).String()
	}
	b.Logf("failover rounds: %v", parts)
}

func TestPercentile_NearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0.5, 1}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one value = %v, want 7", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

func TestRunLoad_SendsEachWriteOnceAndCountsErrors(t *testing.T) {
	var calls atomic.Int64
	seen := sync.Map{}
	boom := errors.New("boom")
	st := runLoad(context.Background(), 8, 1000, func(_ context.Context, _ int, seq uint64) error {
		if _, dup := seen.LoadOrStore(seq, true); dup {
			t.Errorf("seq %d used twice", seq)
		}
		if calls.Add(1)%10 == 0 {
			return boom
		}
		return nil
	})
	if calls.Load() != 1000 {
		t.Fatalf("write called %d times, want 1000", calls.Load())
	}
	if st.Ops != 900 || st.Errors != 100 || !errors.Is(st.FirstErr, boom) {
		t.Fatalf("ops=%d errors=%d first=%v, want 900, 100, boom", st.Ops, st.Errors, st.FirstErr)
	}
	if !slices.IsSorted(st.Latencies) || st.WritesPerSec() <= 0 {
		t.Fatalf("latencies not sorted or no throughput: %v/s", st.WritesPerSec())
	}
}

func TestFirstWriteAfter_RetriesUntilAccepted(t *testing.T) {
	start := time.Now()
	var tries []int
	d, err := firstWriteAfter(context.Background(), start, func(_ context.Context, try int) error {
		tries = append(tries, try)
		if try < 3 {
			return errors.New("no leader")
		}
		return nil
	})
	if err != nil || !slices.Equal(tries, []int{0, 1, 2, 3}) {
		t.Fatalf("err=%v tries=%v, want nil and 0..3", err, tries)
	}
	if d < 3*retryInterval {
		t.Fatalf("took %v, want at least three retry intervals", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := firstWriteAfter(ctx, time.Now(), func(context.Context, int) error { return errors.New("down") }); err == nil {
		t.Fatal("firstWriteAfter succeeded although every attempt failed")
	}
}
