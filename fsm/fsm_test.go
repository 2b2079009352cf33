package fsm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitForIndex_ReturnsWhenApplied(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1024, 1)
	// Already applied: returns at once, even with a finished context.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitForIndex(done, 1); err != nil {
		t.Fatalf("wait for an applied index: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.WaitForIndex(ctx, 3) }()
	// Index 2 does not release the waiter; index 3 does.
	f.must(SetNodeStatus{ID: "n1", Status: NodeSuspect, At: t0})
	select {
	case err := <-errc:
		t.Fatalf("waiter returned at index 2: %v", err)
	default:
	}
	// A refused command still advances the applied index.
	f.refuse(RemoveNode{ID: "nope"}, ErrNotFound)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("waiter not released at index 3")
	}
	if f.AppliedIndex() != 3 {
		t.Fatalf("applied %d", f.AppliedIndex())
	}
}

func TestWaitForIndex_TimesOut(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1024, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := f.WaitForIndex(ctx, 10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "index 10") || !strings.Contains(err.Error(), "applied 1") {
		t.Fatalf("message %q does not name the indexes", err)
	}
}

func TestWaitForIndex_ReleasedByRestore(t *testing.T) {
	src := richFSM(t)
	b := snapshotBytes(t, src.FSM)
	f := New()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.WaitForIndex(ctx, src.AppliedIndex()) }()
	if err := restoreBytes(f, b); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("wait across restore: %v", err)
	}
}

func TestSubscribe_EventsNameTheEntity(t *testing.T) {
	f := newTestFSM(t)
	events, stop := f.Subscribe(32)
	defer stop()
	f.addNode("n1", "node-1", 4096, 4)
	f.must(SetNodeStatus{ID: "n1", Status: NodeSuspect, At: t0})
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 64, 1), At: t0})
	f.refuse(CreateVM{ID: "vm-2", Spec: testSpec("web-1", 64, 1), At: t0}, ErrConflict)
	f.must(VMAction{ID: "vm-1", Action: ActionStop, At: t0})
	f.must(CreateToken{Token: testToken("tok-1", "ci", "x")})
	f.must(InitCluster{ClusterID: "c1", At: t0})
	f.must(DeleteVM{ID: "vm-1"})
	f.must(RemoveNode{ID: "n1"})
	want := []Event{
		{Index: 1, Type: CmdRegisterNode, Kind: "node", ID: "n1", Name: "node-1"},
		{Index: 2, Type: CmdSetNodeStatus, Kind: "node", ID: "n1", Name: "node-1"},
		{Index: 3, Type: CmdCreateVM, Kind: "vm", ID: "vm-1", Name: "web-1", Project: DefaultProject},
		// Index 4 was refused: no event.
		{Index: 5, Type: CmdVMAction, Kind: "vm", ID: "vm-1", Name: "web-1", Project: DefaultProject},
		{Index: 6, Type: CmdCreateToken, Kind: "token", ID: "tok-1", Name: "ci"},
		{Index: 7, Type: CmdInitCluster, Kind: "cluster", ID: "c1"},
		// A deletion is named as the object was.
		{Index: 8, Type: CmdDeleteVM, Kind: "vm", ID: "vm-1", Name: "web-1", Project: DefaultProject},
		{Index: 9, Type: CmdRemoveNode, Kind: "node", ID: "n1", Name: "node-1"},
	}
	for _, w := range want {
		select {
		case ev := <-events:
			if ev != w {
				t.Fatalf("event %+v, want %+v", ev, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no event, want %+v", w)
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("extra event %+v", ev)
	default:
	}
}

func TestSubscribe_RestoreAndStop(t *testing.T) {
	f := newTestFSM(t)
	a, stopA := f.Subscribe(1)
	b, stopB := f.Subscribe(8)
	defer stopB()
	if err := restoreBytes(f.FSM, snapshotBytes(t, richFSM(t).FSM)); err != nil {
		t.Fatal(err)
	}
	if ev := <-b; ev.Kind != "restore" || ev.Index != f.AppliedIndex() {
		t.Fatalf("restore event %+v", ev)
	}
	<-a
	// A slow subscriber loses events beyond its buffer instead of blocking Apply.
	f.index = f.AppliedIndex()
	f.must(CreateVM{ID: "vm-a", Spec: testSpec("a", 64, 1), At: t0})
	f.must(CreateVM{ID: "vm-b", Spec: testSpec("b", 64, 1), At: t0})
	if ev := <-a; ev.ID != "vm-a" {
		t.Fatalf("event %+v", ev)
	}
	select {
	case ev := <-a:
		t.Fatalf("event beyond the buffer was kept: %+v", ev)
	default:
	}
	// After stop, nothing more arrives.
	stopA()
	f.must(CreateVM{ID: "vm-c", Spec: testSpec("c", 64, 1), At: t0})
	select {
	case ev := <-a:
		t.Fatalf("event after stop: %+v", ev)
	default:
	}
	for _, id := range []string{"vm-a", "vm-b", "vm-c"} {
		if ev := <-b; ev.ID != id {
			t.Fatalf("subscriber b got %+v, want %s", ev, id)
		}
	}
}
