package chaos

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Report is what Check found. The test fails with each of Problems.
type Report struct {
	// Summary counts the history's operations and the run's elections.
	Summary string
	// MaybeCauses counts the maybe-applied writes by node and error.
	MaybeCauses string
	Problems    []string
}

// TB is the part of testing.TB a report is written to.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Error(args ...any)
}

// Write logs the summary and the causes of the maybe-applied writes, and fails
// t with each problem.
func (rep Report) Write(t TB) {
	t.Helper()
	t.Logf("history: %s", rep.Summary)
	if rep.MaybeCauses != "" {
		t.Logf("maybe-applied writes by error: %s", rep.MaybeCauses)
	}
	for _, p := range rep.Problems {
		t.Error(p)
	}
}

// Finish stops the load if it still runs, reads every register through every
// target into the history (the answers of the target named leader are the
// registers' final values), and checks the history.
func (r *Run) Finish(ctx context.Context, targets []Target, leader string, timeout time.Duration) Report {
	r.Stop()
	var final map[int]int64
	var failed []string
	for _, t := range targets {
		vals, err := r.ReadAll(ctx, t)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		if t.Name() == leader {
			final = vals
		}
	}
	if final == nil {
		failed = append(failed, "could not read the final values through the leader "+leader)
	}
	rep := r.Check(final, timeout)
	rep.Problems = append(failed, rep.Problems...)
	return rep
}

// Check checks the history after Stop and the final reads: it must be
// linearizable (decided by the zone test, zones.go, and checked by porcupine
// within timeout where its search finishes in time), no read may be stale, and every
// register's final value (final, read through the leader) must be one that may
// legally be last, so that no acknowledged write was lost.
func (r *Run) Check(final map[int]int64, timeout time.Duration) Report {
	r.mu.Lock()
	ops := append([]porcupine.Operation(nil), r.ops...)
	r.mu.Unlock()
	var rep Report
	if final != nil && len(final) != len(r.cfg.Keys) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("final values of %d of %d registers given", len(final), len(r.cfg.Keys)))
	}
	// A maybe-applied write may take effect at any time after its call: it
	// returns at the end of the history, after everything else.
	end := r.now() + 1
	maybe := 0
	for i := range ops {
		if ops[i].Metadata.(Meta).Maybe {
			ops[i].Return = end
			maybe++
		}
	}
	history := pruneUnseen(ops)
	rep.Summary = fmt.Sprintf("%d ops over %s (writes: %d acked, %d maybe-applied of which %d seen by a read, %d refused; reads: %d ok, %d failed, %d more through new leaders), %d elections won",
		len(history), r.Elapsed(), r.writesOK.Load(), maybe, maybe-(len(ops)-len(history)), r.writesRefused.Load(), r.readsOK.Load(), r.readsFailed.Load(), r.probes.Load(), r.elections.Load())
	rep.MaybeCauses = maybeCauses(ops)
	if r.writesOK.Load() == 0 || r.readsOK.Load() == 0 {
		rep.Problems = append(rep.Problems, "the load made no progress at all: "+rep.Summary)
	}
	rep.Problems = append(rep.Problems, staleReads(ops)...)
	rep.Problems = append(rep.Problems, lostWrites(ops, len(r.cfg.Keys), final)...)

	// The zone test decides; porcupine's search, bounded by timeout, checks
	// it and draws the history when it is illegal.
	zones := zoneViolations(history, 20)
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(Model, history, timeout)
	rep.Summary += fmt.Sprintf("; zone test: %d violations; porcupine: %s in %s", len(zones), res, time.Since(began).Round(time.Millisecond))
	switch {
	case len(zones) > 0:
		p := "the history is not linearizable: " + strings.Join(zones, "; ")
		if res == porcupine.Illegal {
			p += "; visualization: " + visualize(r.cfg.VisualizeDir, r.cfg.Name, info)
		}
		rep.Problems = append(rep.Problems, p)
	case res == porcupine.Illegal:
		rep.Problems = append(rep.Problems, "porcupine finds the history not linearizable where the zone test does not (a bug in one of them); visualization: "+visualize(r.cfg.VisualizeDir, r.cfg.Name, info))
	}
	return rep
}

// pruneUnseen drops the maybe-applied writes whose value no read returned. Such
// a write returns at the end of the history, so it can always be linearized
// last, where it changes nothing anyone saw: the history is linearizable with
// it exactly when it is without it. Left in, each one doubles the states the
// checker may have to visit to prove a violation.
func pruneUnseen(ops []porcupine.Operation) []porcupine.Operation {
	seen := map[[2]int64]bool{}
	for _, op := range ops {
		if in := op.Input.(Input); !in.Write {
			seen[[2]int64{int64(in.Key), op.Output.(int64)}] = true
		}
	}
	var out []porcupine.Operation
	for _, op := range ops {
		in := op.Input.(Input)
		if in.Write && op.Metadata.(Meta).Maybe && !seen[[2]int64{int64(in.Key), in.Value}] {
			continue
		}
		out = append(out, op)
	}
	return out
}

// visualize writes porcupine's HTML view of the history to a file in dir
// (empty: the system's temporary folder, so it outlives the test) and
// returns its path.
func visualize(dir, name string, info porcupine.LinearizationInfo) string {
	f, err := os.CreateTemp(dir, "novacron-"+strings.ReplaceAll(name, "/", "_")+"-*.html")
	if err != nil {
		return "(not written: " + err.Error() + ")"
	}
	f.Close()
	if err := porcupine.VisualizePath(Model, info, f.Name()); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	return f.Name()
}

// staleReads lists reads that no linearization can explain, found directly so
// that a violation comes with evidence: a read of a value that does not exist,
// or of a value whose write was followed by a completed write before the read
// began. It is a subset of what porcupine finds, and cheap.
func staleReads(ops []porcupine.Operation) []string {
	type write struct{ call, ret int64 }
	type kv struct {
		key   int
		value int64
	}
	writes := map[kv]write{}
	byKey := map[int][]porcupine.Operation{}
	for _, op := range ops {
		in := op.Input.(Input)
		if in.Write {
			writes[kv{in.Key, in.Value}] = write{op.Call, op.Return}
			if !op.Metadata.(Meta).Maybe {
				byKey[in.Key] = append(byKey[in.Key], op)
			}
		}
	}
	var out []string
	for _, op := range ops {
		in := op.Input.(Input)
		if in.Write {
			continue
		}
		v, m := op.Output.(int64), op.Metadata.(Meta)
		w, ok := writes[kv{in.Key, v}]
		if v == 0 {
			w, ok = write{0, 0}, true // the value the VMs were created with
		}
		if !ok {
			out = append(out, fmt.Sprintf("stale read: reg-%d read %d via %s (read index %d) at %s: no such value was ever written to it", in.Key, v, m.Node, m.Index, time.Duration(op.Call)))
			continue
		}
		for _, later := range byKey[in.Key] {
			if later.Call > w.ret && later.Return < op.Call {
				out = append(out, fmt.Sprintf("stale read: reg-%d read %d via %s (read index %d) at %s, but %d was acked at %s (index %d) after %d was written",
					in.Key, v, m.Node, m.Index, time.Duration(op.Call), later.Input.(Input).Value, time.Duration(later.Return), later.Metadata.(Meta).Index, v))
				break
			}
		}
		if len(out) >= 20 {
			break
		}
	}
	return out
}

// lostWrites checks that every register's final value is one that may legally
// be last: an acknowledged write that no other acknowledged write followed, or
// a maybe-applied write. A maybe-applied write issued before the last
// acknowledged one may still take effect after it, as the history's model
// says (it returns at the end): its client gave up, but the request may still
// be on its way to the leader (seen in e2e: a forwarded write landing a few
// milliseconds after a later acknowledged one).
func lostWrites(ops []porcupine.Operation, keys int, final map[int]int64) []string {
	acked, maybe := map[int][]porcupine.Operation{}, map[int][]porcupine.Operation{}
	for _, op := range ops {
		if in := op.Input.(Input); in.Write {
			if op.Metadata.(Meta).Maybe {
				maybe[in.Key] = append(maybe[in.Key], op)
			} else {
				acked[in.Key] = append(acked[in.Key], op)
			}
		}
	}
	var out []string
	for k := 0; k < keys; k++ {
		v, ok := final[k]
		if !ok {
			continue
		}
		allowed := map[int64]bool{}
		var last []porcupine.Operation
		for _, w := range acked[k] {
			followed := false
			for _, o := range acked[k] {
				followed = followed || o.Call > w.Return
			}
			if !followed {
				last = append(last, w)
				allowed[w.Input.(Input).Value] = true
			}
		}
		if len(acked[k]) == 0 {
			allowed[0] = true
		}
		for _, w := range maybe[k] {
			allowed[w.Input.(Input).Value] = true
		}
		if !allowed[v] {
			out = append(out, fmt.Sprintf("reg-%d ends at %d, which is neither its last acknowledged write %s nor a maybe-applied one: an acknowledged write was lost", k, v, describe(last)))
		}
	}
	return out
}

func describe(ops []porcupine.Operation) string {
	var s []string
	for _, op := range ops {
		m := op.Metadata.(Meta)
		s = append(s, fmt.Sprintf("%d (via %s, index %d, %s..%s)", op.Input.(Input).Value, m.Node, m.Index, time.Duration(op.Call), time.Duration(op.Return)))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
}

// varying matches what varies per request in error messages: URLs (with the
// VM's ID) and host:port pairs.
var varying = regexp.MustCompile(`"https?://[^"]*"|\d+\.\d+\.\d+\.\d+:\d+`)

// maybeCauses counts the maybe-applied writes by node and error, with the
// URLs and addresses in the errors blanked out.
func maybeCauses(ops []porcupine.Operation) string {
	counts := map[string]int{}
	for _, op := range ops {
		if m := op.Metadata.(Meta); m.Maybe {
			counts[m.Node+": "+varying.ReplaceAllString(m.Err, "ADDR")]++
		}
	}
	var s []string
	for k, n := range counts {
		s = append(s, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(s)
	return strings.Join(s, "; ")
}
