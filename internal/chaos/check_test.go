package chaos

import (
	"context"
	"fmt"
	"github.com/anishathalye/porcupine"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is a cluster reduced to a map under a lock: linearizable by
// construction. Its knobs break it the ways a replicated store can break.
type memStore struct {
	mu   sync.Mutex
	regs map[string]int64
	// stale keeps, per register, the value before the last write: reads
	// served from it lag one write behind (a follower answering from its own
	// state without a read index).
	stale    map[string]int64
	readOld  bool
	dropEach int // acknowledge but forget every dropEach-th write (0: none)
	writes   int
}

func newMemStore(keys []string) *memStore {
	m := &memStore{regs: map[string]int64{}, stale: map[string]int64{}}
	for _, k := range keys {
		m.regs[k], m.stale[k] = 0, 0
	}
	return m
}

type memTarget struct {
	name string
	m    *memStore
}

func (t memTarget) Name() string { return t.name }

func (t memTarget) Write(_ context.Context, _ int, id string, v int64) (uint64, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	t.m.writes++
	if t.m.dropEach > 0 && t.m.writes%t.m.dropEach == 0 {
		return uint64(t.m.writes), nil
	}
	t.m.stale[id] = t.m.regs[id]
	t.m.regs[id] = v
	return uint64(t.m.writes), nil
}

func (t memTarget) Read(_ context.Context, id string) (string, bool, uint64, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	v := t.m.regs[id]
	if t.m.readOld {
		v = t.m.stale[id]
	}
	return strconv.FormatInt(v, 10), true, 0, nil
}

func (t memTarget) Leading(context.Context) (bool, uint64) { return t.name == "n1", 1 }

// runAgainst runs a short load against m through three targets and checks it.
func runAgainst(t *testing.T, m *memStore, keys []string) Report {
	t.Helper()
	targets := []Target{memTarget{"n1", m}, memTarget{"n2", m}, memTarget{"n3", m}}
	// The checker's own tests expect violations: their visualizations go
	// with the test.
	r := Start(Config{Name: t.Name(), VisualizeDir: t.TempDir(), Keys: keys, Writers: 8, Readers: 8, WriteRate: 1000, ReadRate: 1000}, func() []Target { return targets })
	<-time.After(300 * time.Millisecond) // a load of fixed length, not a wait
	r.Stop()
	m.mu.Lock()
	m.readOld = false // the final reads come from the leader's own state
	m.mu.Unlock()
	final, err := r.ReadAll(context.Background(), targets[0])
	if err != nil {
		t.Fatal(err)
	}
	return r.Check(final, 10*time.Second)
}

func testKeys(n int) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("vm-%d", i))
	}
	return keys
}

func TestCheck_LinearizableStorePasses(t *testing.T) {
	keys := testKeys(4)
	rep := runAgainst(t, newMemStore(keys), keys)
	if len(rep.Problems) > 0 {
		t.Fatalf("a store behind one lock failed the check: %s\n%s", rep.Summary, strings.Join(rep.Problems, "\n"))
	}
	if !strings.Contains(rep.Summary, "zone test: 0 violations; porcupine: Ok") {
		t.Fatalf("summary does not say porcupine passed: %s", rep.Summary)
	}
}

func TestCheck_StaleReadsCaught(t *testing.T) {
	keys := testKeys(2)
	m := newMemStore(keys)
	m.readOld = true
	rep := runAgainst(t, m, keys)
	if !hasProblem(rep, "not linearizable") || !hasProblem(rep, "stale read") {
		t.Fatalf("reads one write behind were not caught: %s\n%s", rep.Summary, strings.Join(rep.Problems, "\n"))
	}
}

func TestCheck_LostAcknowledgedWritesCaught(t *testing.T) {
	keys := testKeys(2)
	m := newMemStore(keys)
	m.dropEach = 3
	rep := runAgainst(t, m, keys)
	if !hasProblem(rep, "not linearizable") {
		t.Fatalf("acknowledged writes that were forgotten were not caught: %s\n%s", rep.Summary, strings.Join(rep.Problems, "\n"))
	}
}

func TestCheck_FinalValueMustBeALastWrite(t *testing.T) {
	keys := testKeys(1)
	r := Start(Config{Name: t.Name(), VisualizeDir: t.TempDir(), Keys: keys, Writers: 1, Readers: 1, WriteRate: 1, ReadRate: 1}, func() []Target { return nil })
	r.Stop()
	// Two acknowledged writes in sequence; the register then ends at the first.
	r.record(opWrite(0, 1, 10, 20))
	r.record(opWrite(0, 2, 30, 40))
	rep := r.Check(map[int]int64{0: 1}, time.Second)
	if !hasProblem(rep, "acknowledged write was lost") {
		t.Fatalf("a register ending before its last acknowledged write passed: %v", rep.Problems)
	}
	if rep := r.Check(map[int]int64{0: 2}, time.Second); hasProblem(rep, "lost") {
		t.Fatalf("the right final value was called lost: %v", rep.Problems)
	}
}

func opWrite(key int, v, call, ret int64) porcupine.Operation {
	return porcupine.Operation{ClientId: 0, Input: Input{Key: key, Write: true, Value: v}, Call: call, Return: ret, Metadata: Meta{Node: "n1"}}
}

func hasProblem(rep Report, s string) bool {
	for _, p := range rep.Problems {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// TestCheck_AnEarlierRunsLateWriteIsPendingNotStale: a write of an earlier run
// that lands during this one (a timed-out request retransmitted after a
// partition heals) is legal when the earlier run hands it on, and caught when
// it does not.
func TestCheck_AnEarlierRunsLateWriteIsPendingNotStale(t *testing.T) {
	// No writes of this run's own (one a second, none in 200 ms): only the
	// late one changes the register.
	keys := testKeys(1)
	late := Input{Key: 0, Write: true, Value: lastValue.Add(1)}
	for _, pending := range []bool{true, false} {
		m := newMemStore(keys)
		targets := []Target{memTarget{"n1", m}, memTarget{"n2", m}}
		cfg := Config{Name: t.Name(), VisualizeDir: t.TempDir(), Keys: keys, Writers: 1, Readers: 4, WriteRate: 1, ReadRate: 500}
		if pending {
			cfg.Pending = []Input{late}
		}
		r := Start(cfg, func() []Target { return targets })
		<-time.After(100 * time.Millisecond) // some history before the late write
		m.mu.Lock()
		m.regs[keys[0]] = late.Value
		m.mu.Unlock()
		<-time.After(100 * time.Millisecond)
		r.Stop()
		final, err := r.ReadAll(context.Background(), targets[0])
		if err != nil {
			t.Fatal(err)
		}
		rep := r.Check(final, 10*time.Second)
		if pending && (hasProblem(rep, "stale") || hasProblem(rep, "linearizable") || hasProblem(rep, "lost")) {
			t.Fatalf("a pending write that landed was called a problem: %v", rep.Problems)
		}
		if !pending && !hasProblem(rep, "no such value was ever written to it") {
			t.Fatalf("a value nobody wrote in this run passed: %s %v", rep.Summary, rep.Problems)
		}
	}
}
