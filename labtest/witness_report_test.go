package labtest

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// What a witness (witness_test.go) saw: queries for the tests while it runs,
// and the report that fails a test on a double run or a blind witness.

// roundCount returns how many rounds the witness has completed.
func (w *witness) roundCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rounds
}

// waitRounds waits until n more rounds have completed: the witness has seen
// the present.
func (w *witness) waitRounds(tb testing.TB, n int) {
	tb.Helper()
	want := w.roundCount() + n
	testutil.EventuallyEvery(tb, 10*time.Second, 10*time.Millisecond, fmt.Sprintf("%d witness rounds", n), func() error {
		if got := w.roundCount(); got < want {
			return fmt.Errorf("%d rounds, want %d", got, want)
		}
		return nil
	})
}

// activeOn names the hosts the VM was active on in the last round.
func (w *witness) activeOn(id string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.latest[strings.ToLower(id)])
}

// firstActiveElsewhere is the first sample at or after since in which the VM
// was active on a host other than not, and that host.
func (w *witness) firstActiveElsewhere(id, not string, since time.Time) (string, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var best time.Time
	bestHost := ""
	for host, spans := range w.spans[strings.ToLower(id)] {
		if host == not {
			continue
		}
		for _, sp := range spans {
			if sp.Last.Before(since) {
				continue
			}
			at := sp.First
			if at.Before(since) {
				at = since
			}
			if bestHost == "" || at.Before(best) {
				best, bestHost = at, host
			}
		}
	}
	return bestHost, best, bestHost != ""
}

// lastActiveOn is the last sample in which the VM was active on the host; zero
// if never.
func (w *witness) lastActiveOn(id, host string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	spans := w.spans[strings.ToLower(id)][host]
	if len(spans) == 0 {
		return time.Time{}
	}
	return spans[len(spans)-1].Last
}

// timeline describes when the witness saw the VM run, host by host: the
// spans of consecutive rounds.
func (w *witness) timeline(id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	byHost := w.spans[strings.ToLower(id)]
	var parts []string
	for _, hw := range w.hosts {
		for _, sp := range byHost[hw.h.Name] {
			parts = append(parts, fmt.Sprintf("%s %s-%s", hw.h.Name, sp.First.Format("15:04:05.000"), sp.Last.Format("15:04:05.000")))
		}
	}
	if len(parts) == 0 {
		return "never seen running"
	}
	return strings.Join(parts, ", ")
}

// witnessReport is what the witness saw, for the test log.
type witnessReport struct {
	Duration time.Duration
	Rounds   int
	Samples  int
	Doubles  int
}

// stop ends the sampling (idempotent) and waits for the last round.
func (w *witness) stop() {
	w.mu.Lock()
	already := w.stopped
	w.stopped = true
	w.mu.Unlock()
	if !already {
		close(w.stopCh)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		// A round stuck in a libvirt call: keepalive ends it within seconds,
		// so this is a bug; report it without hanging the test.
	}
	w.mu.Lock()
	if w.end.IsZero() {
		w.end = time.Now()
	}
	w.mu.Unlock()
}

// report stops the witness and fails tb on a double run, on a rate below
// witnessMinRate (rounds, or libvirt answers of a host), or on a host that did
// not answer while it was not declared down. It logs the figures once; later
// calls only return them.
func (w *witness) report(tb testing.TB) witnessReport {
	tb.Helper()
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := witnessReport{Duration: w.end.Sub(w.start), Rounds: w.rounds, Doubles: w.nDouble}
	for _, hw := range w.hosts {
		r.Samples += len(hw.samples)
	}
	if w.reported {
		return r
	}
	w.reported = true
	secs := r.Duration.Seconds()
	maxGap, p99 := gaps(w.roundAt)
	roundRate := float64(w.rounds) / secs
	tb.Logf("witness: %d rounds in %.1fs = %.1f Hz (between rounds: p99 %s, max %s); %d libvirt calls; %d double runs",
		w.rounds, secs, roundRate, p99.Round(time.Millisecond), maxGap.Round(time.Millisecond), r.Samples, r.Doubles)
	if roundRate < witnessMinRate {
		tb.Errorf("witness: %.1f rounds a second, want at least %.0f", roundRate, witnessMinRate)
	}
	for _, hw := range w.hosts {
		var ends []time.Time
		var slowest time.Duration
		slow := 0
		for _, s := range hw.samples {
			ends = append(ends, s.End)
			took := s.End.Sub(s.Start)
			slowest = max(slowest, took)
			if took > witnessRoundWait {
				slow++
			}
		}
		rate := float64(len(hw.samples)) / secs
		gap, p99 := gaps(ends)
		tb.Logf("witness: %s: %d libvirt calls = %.1f Hz (between calls: p99 %s, max %s); %d calls slower than %s (slowest %s), %d rounds on an earlier answer; %d calls without an answer",
			hw.h.Name, len(hw.samples), rate, p99.Round(time.Millisecond), gap.Round(time.Millisecond),
			slow, witnessRoundWait, slowest.Round(time.Millisecond), hw.stale, hw.failures)
		if rate < witnessMinRate {
			tb.Errorf("witness: %s was asked %.1f times a second, want at least %.0f", hw.h.Name, rate, witnessMinRate)
		}
		if hw.unexpected > 0 {
			tb.Errorf("witness: %s did not answer %d times while it was not declared down (last: %v): the witness was blind there",
				hw.h.Name, hw.unexpected, hw.lastErr)
		}
		if len(hw.blind) > 0 {
			tb.Errorf("witness: %s showed domains active for %d answers in a row without a running QEMU (pid file %s): %s",
				hw.h.Name, noQEMULimit, filepath.Join(hw.h.Dir, "run", "qemu", "NAME.pid"), strings.Join(hw.blind, ", "))
		}
	}
	for _, d := range w.doubles {
		tb.Errorf("witness: DOUBLE RUN in round %d at %s: vm %s runs on %s", d.Round, d.At.Format("15:04:05.000"), d.VMID, strings.Join(d.Hosts, " and "))
	}
	if w.nDouble > len(w.doubles) {
		tb.Errorf("witness: %d more double runs not listed", w.nDouble-len(w.doubles))
	}
	return r
}

// gaps returns the largest and the 99th-percentile time between consecutive
// times.
func gaps(ts []time.Time) (maxGap, p99 time.Duration) {
	if len(ts) < 2 {
		return 0, 0
	}
	ds := make([]time.Duration, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		ds = append(ds, ts[i].Sub(ts[i-1]))
	}
	slices.Sort(ds)
	return ds[len(ds)-1], ds[(len(ds)-1)*99/100]
}
