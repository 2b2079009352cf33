package eventlog

import (
	"context"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// BenchmarkJournal_Applied is what the journal adds to every Raft apply
// (it runs inside the FSM's Apply): one frame of one event appended.
func BenchmarkJournal_Applied(b *testing.B) {
	j := New(Config{})
	evs := []fsm.Event{{Type: fsm.CmdCreateVM, Kind: "vm", ID: "4b1f6c2e-0000-4000-8000-000000000000", Name: "web-1", Project: "default"}}
	b.ReportAllocs()
	for i := range b.N {
		j.Applied(uint64(i+1), evs)
	}
}

// BenchmarkJournal_StreamFrame is one subscriber's work for one frame:
// read it, filter it, encode it.
func BenchmarkJournal_StreamFrame(b *testing.B) {
	j := New(Config{MaxFrames: b.N + 1}) // all of them kept
	evs := []fsm.Event{{Type: fsm.CmdCreateVM, Kind: "vm", ID: "4b1f6c2e-0000-4000-8000-000000000000", Name: "web-1", Project: "default"}}
	for i := range b.N {
		j.Applied(uint64(i+1), evs)
	}
	after := uint64(0)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	j.Stream(context.Background(), StreamOptions{After: &after, Limit: b.N}, Filter{Allowed: func(Event) bool { return true }}, func([]byte) error {
		n++
		return nil
	})
	if n != b.N {
		b.Fatalf("%d frames sent, want %d", n, b.N)
	}
}
