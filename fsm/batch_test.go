package fsm

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

func applyBatchEntry(t *testing.T, f *FSM, b *Batch, index uint64) BatchResult {
	t.Helper()
	data, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data}).(BatchResult)
	if !ok {
		t.Fatalf("a batch did not return a BatchResult")
	}
	return res
}

func TestBatch_EachEntrySucceedsOrFailsOnItsOwn(t *testing.T) {
	f := New()
	events, stop := f.Subscribe(16)
	defer stop()
	spec := func(name string) VMSpec { return VMSpec{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1} }
	b, err := NewBatch(
		CreateVM{ID: "a", Spec: spec("web-1"), At: t0},
		CreateVM{ID: "b", Spec: spec("web-1"), At: t0}, // duplicate name
		CreateVM{ID: "c", Spec: spec("web-2"), At: t0},
	)
	if err != nil {
		t.Fatal(err)
	}
	res := applyBatchEntry(t, f, b, 7)
	if len(res.Results) != 3 || res.Results[0].Err != nil || !errors.Is(res.Results[1].Err, ErrConflict) || res.Results[2].Err != nil {
		t.Fatalf("results %+v, want ok, conflict, ok", res.Results)
	}
	if got := len(f.VMs()); got != 2 {
		t.Fatalf("%d vms, want 2", got)
	}
	if f.AppliedIndex() != 7 {
		t.Fatalf("applied index %d, want 7", f.AppliedIndex())
	}
	for _, want := range []string{"a", "c"} {
		ev := <-events
		if ev.Kind != "vm" || ev.ID != want || ev.Index != 7 {
			t.Fatalf("event %+v, want vm %s at 7", ev, want)
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %+v for a refused entry", ev)
	default:
	}
}

func TestBatch_BadEntries(t *testing.T) {
	f := New()
	b := &Batch{Entries: []BatchEntry{
		{Type: CmdCreateVM, Body: json.RawMessage(`{"id": 7}`)},
		{Type: IgnorableFlag | 0x10, Body: json.RawMessage(`{}`)},
		{Type: CmdBatch, Body: json.RawMessage(`{"entries":[]}`)},
	}}
	res := applyBatchEntry(t, f, b, 1)
	if !errors.Is(res.Results[0].Err, ErrMalformed) {
		t.Fatalf("malformed entry: %v", res.Results[0].Err)
	}
	var unknown *UnknownCommandError
	if !errors.As(res.Results[1].Err, &unknown) {
		t.Fatalf("ignorable unknown entry: %v", res.Results[1].Err)
	}
	if !errors.Is(res.Results[2].Err, ErrMalformed) {
		t.Fatalf("nested batch: %v", res.Results[2].Err)
	}
	if _, err := NewBatch(Batch{}); err == nil {
		t.Fatal("NewBatch nested a batch")
	}
}
