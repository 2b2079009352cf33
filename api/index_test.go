package api

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// waitSignalState tells the test when a request starts waiting for an index.
type waitSignalState struct {
	*fsm.FSM
	waiting chan uint64
}

func (s waitSignalState) WaitForIndex(ctx context.Context, index uint64) error {
	select {
	case s.waiting <- index:
	default:
	}
	return s.FSM.WaitForIndex(ctx, index)
}

func TestIndexHeader_OnEveryResponse(t *testing.T) {
	e := newTestEnv(t)
	applied := strconv.FormatUint(e.fsm.AppliedIndex(), 10)
	for _, a := range []answer{
		e.do("GET", "/api/v1/vms", e.root, nil),
		e.do("GET", "/api/v1/vms", "", nil),
		e.do("GET", "/api/v1/vms/nope", e.root, nil),
		e.do("GET", "/api/v1/nothing", e.root, nil),
		e.do("PATCH", "/api/v1/vms", e.root, nil),
		e.do("GET", "/healthz", "", nil),
		e.do("GET", "/metrics", "", nil),
	} {
		if got := a.header.Get(IndexHeader); got != applied {
			t.Fatalf("status %d: index header %q, want %s", a.status, got, applied)
		}
	}
	a := e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expect(t, http.StatusCreated, nil)
	if got, want := a.header.Get(IndexHeader), strconv.FormatUint(e.fsm.AppliedIndex(), 10); got != want || got == applied {
		t.Fatalf("write index header %q, want %s", got, want)
	}
}

func TestReadIndex_WaitsUntilApplied(t *testing.T) {
	var st waitSignalState
	e := newTestEnvWith(t, Config{}, func(f *fsm.FSM) State {
		st = waitSignalState{FSM: f, waiting: make(chan uint64, 1)}
		return st
	})
	want := e.fsm.AppliedIndex() + 1
	done := make(chan answer, 1)
	go func() { done <- e.do("GET", "/api/v1/vms?index="+strconv.FormatUint(want, 10), e.root, nil) }()
	select {
	case idx := <-st.waiting:
		if idx != want {
			t.Fatalf("waiting for %d, want %d", idx, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read never waited for its index")
	}
	select {
	case a := <-done:
		t.Fatalf("read answered %d before index %d was applied", a.status, want)
	default:
	}
	e.cluster.mustApply(t, fsm.CreateVM{ID: ids.New(), Spec: fsm.VMSpec{Name: "late", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1}, At: time.Now()})
	select {
	case a := <-done:
		a.expect(t, http.StatusOK, nil)
		if a.header.Get(IndexHeader) != strconv.FormatUint(want, 10) {
			t.Fatalf("index header %q, want %d", a.header.Get(IndexHeader), want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not answer once its index was applied")
	}
}

func TestReadIndex_TimesOut(t *testing.T) {
	e := newTestEnvWith(t, Config{MaxIndexWait: 100 * time.Millisecond}, nil)
	future := strconv.FormatUint(e.fsm.AppliedIndex()+100, 10)
	start := time.Now()
	e.do("GET", "/api/v1/vms?index="+future, e.root, nil).expectError(t, http.StatusGatewayTimeout, "index_timeout", "index "+future)
	e.do("GET", "/api/v1/vms/x?index="+future+"&wait=20ms", e.root, nil).expectError(t, http.StatusGatewayTimeout, "index_timeout", "20ms")
	// ?wait cannot stretch the wait past MaxIndexWait.
	e.do("GET", "/api/v1/vms?index="+future+"&wait=1h", e.root, nil).expectError(t, http.StatusGatewayTimeout, "index_timeout", "100ms")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeouts took %s", d)
	}
	// An index already applied answers at once.
	e.do("GET", "/api/v1/vms?index=1", e.root, nil).expect(t, http.StatusOK, nil)
}

func TestReadIndex_BadParameters(t *testing.T) {
	e := newTestEnv(t)
	e.do("GET", "/api/v1/vms?index=abc", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", `index: "abc"`)
	e.do("GET", "/api/v1/vms?index=-1", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "index")
	e.do("GET", "/api/v1/vms?index=1&wait=forever", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "wait")
}

func TestConsistentRead_UsesConsistentIndex(t *testing.T) {
	e := newTestEnvWith(t, Config{MaxIndexWait: 100 * time.Millisecond}, nil)
	e.do("GET", "/api/v1/vms?consistent", e.root, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
	if n := e.cluster.consistents(); n != 1 {
		t.Fatalf("ConsistentIndex called %d times, want 1", n)
	}
	// A read index this node has not reached makes the read wait, then time out.
	e.cluster.mu.Lock()
	e.cluster.consistentIndex = e.fsm.AppliedIndex() + 5
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/vms?consistent=true", e.root, nil).expectError(t, http.StatusGatewayTimeout, "index_timeout", "")
}
