package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// vmEvent is the FSM's event of a change to VM id of project at index.
func vmEvent(index uint64, typ fsm.CommandType, id, project string) fsm.Event {
	return fsm.Event{Index: index, Type: typ, Kind: "vm", ID: id, Name: "name-" + id, Project: project}
}

// collector gathers what a stream sends, decoded: frames with events, and
// heartbeats apart.
type collector struct {
	mu     sync.Mutex
	frames []Frame
	beats  []Frame
	// stopAfter makes send fail once that many frames arrived (a reader
	// that goes away); 0 never.
	stopAfter int
}

var errGone = errors.New("reader gone")

func (c *collector) send(b []byte) error {
	var fr Frame
	if err := json.Unmarshal(b, &fr); err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(fr.Events) == 0 {
		c.beats = append(c.beats, fr)
	} else {
		c.frames = append(c.frames, fr)
	}
	if c.stopAfter > 0 && len(c.frames)+len(c.beats) >= c.stopAfter {
		return errGone
	}
	return nil
}

func (c *collector) indexes() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for _, f := range c.frames {
		out = append(out, f.Index)
	}
	return out
}

func streamAll(t *testing.T, j *Journal, opts StreamOptions, f Filter) *collector {
	t.Helper()
	c := &collector{}
	if err := j.Stream(context.Background(), opts, f, c.send); err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr(n uint64) *uint64 { return &n }

func equalIndexes(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A reader cut off mid-stream resumes after the last index it got and
// receives every later frame once, in order.
func TestJournal_ResumeAfterGetsEveryFrameOnce(t *testing.T) {
	j := New(Config{})
	for i := uint64(1); i <= 10; i++ {
		j.Applied(i, []fsm.Event{vmEvent(i, fsm.CmdUpdateVM, "vm-1", "default")})
	}
	first := &collector{stopAfter: 5} // the first heartbeat, then 1..4
	j.Stream(context.Background(), StreamOptions{After: ptr(0), Follow: true}, Filter{}, first.send)
	got := first.indexes()
	rest := streamAll(t, j, StreamOptions{After: ptr(got[len(got)-1])}, Filter{})
	all := append(got, rest.indexes()...)
	if !equalIndexes(all, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("frames %v, want 1..10 once each", all)
	}
	ev := rest.frames[0].Events[0]
	if ev.Type != "vm" || ev.Action != "update_vm" || ev.ID != "vm-1" || ev.Name != "name-vm-1" || ev.Project != "default" {
		t.Fatalf("event %+v", ev)
	}
}

// A follower gets each frame as it is applied; one that names no index
// starts after the newest.
func TestJournal_FollowGetsNewFrames(t *testing.T) {
	j := New(Config{})
	j.Applied(1, []fsm.Event{vmEvent(1, fsm.CmdCreateVM, "vm-1", "default")})
	if got := j.start(StreamOptions{Follow: true}, Filter{}); got != 1 {
		t.Fatalf("a follower without an index starts after %d, want 1 (the newest)", got)
	}
	c := &collector{stopAfter: 3} // the first heartbeat, then 2 and 4
	done := make(chan error, 1)
	go func() {
		done <- j.Stream(context.Background(), StreamOptions{After: ptr(1), Follow: true}, Filter{}, c.send)
	}()
	j.Applied(2, []fsm.Event{vmEvent(2, fsm.CmdUpdateVM, "vm-1", "default")})
	j.Applied(3, nil) // a refused command: nothing to send
	j.Applied(4, []fsm.Event{vmEvent(4, fsm.CmdUpdateVM, "vm-1", "default")})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the follower got %v after 10 s", c.indexes())
	}
	if got := c.indexes(); !equalIndexes(got, []uint64{2, 4}) {
		t.Fatalf("follower got %v, want 2 and 4", got)
	}
}

// A reader whose cursor is older than what is kept gets a gap first, at
// the index to follow on from; then the frames kept.
func TestJournal_GapWhenTooOld(t *testing.T) {
	j := New(Config{MaxFrames: 3})
	for i := uint64(1); i <= 6; i++ {
		j.Applied(i, []fsm.Event{vmEvent(i, fsm.CmdUpdateVM, "vm-1", "default")})
	}
	c := streamAll(t, j, StreamOptions{After: ptr(1)}, Filter{Types: map[string]bool{"node": true}})
	if len(c.frames) != 1 || c.frames[0].Events[0].Type != "gap" || c.frames[0].Index != 3 {
		t.Fatalf("frames %+v, want one gap at index 3 (the VM events are filtered out)", c.frames)
	}
	if msg := c.frames[0].Events[0].Message; !strings.Contains(msg, "after index 1 up to 3") {
		t.Fatalf("gap message %q", msg)
	}
	c = streamAll(t, j, StreamOptions{After: ptr(3)}, Filter{})
	if !equalIndexes(c.indexes(), []uint64{4, 5, 6}) {
		t.Fatalf("after the gap: %v, want 4 5 6", c.indexes())
	}
}

// Frames older than Keep go; so does everything before a restored snapshot.
func TestJournal_KeepAndRestore(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	j := New(Config{Keep: time.Minute, Now: func() time.Time { return now }})
	j.Applied(1, []fsm.Event{vmEvent(1, fsm.CmdCreateVM, "vm-1", "default")})
	now = now.Add(2 * time.Minute)
	j.Applied(2, []fsm.Event{vmEvent(2, fsm.CmdUpdateVM, "vm-1", "default")})
	c := streamAll(t, j, StreamOptions{After: ptr(0)}, Filter{})
	if len(c.frames) != 2 || c.frames[0].Events[0].Type != "gap" || c.frames[1].Index != 2 {
		t.Fatalf("frames %+v, want the gap for index 1 then index 2", c.frames)
	}
	// Nothing applied since: a read trims what expired by itself.
	now = now.Add(2 * time.Minute)
	if c := streamAll(t, j, StreamOptions{After: ptr(1)}, Filter{}); len(c.frames) != 1 || c.frames[0].Events[0].Type != "gap" {
		t.Fatalf("in an idle journal after Keep: %+v, want only a gap", c.frames)
	}
	j.Restored(50)
	c = streamAll(t, j, StreamOptions{After: ptr(2)}, Filter{})
	if len(c.frames) != 1 || c.frames[0].Events[0].Type != "gap" || c.frames[0].Index != 50 {
		t.Fatalf("after a restore: %+v, want a gap to 50", c.frames)
	}
	if j.Last() != 50 {
		t.Fatalf("last %d after restoring 50", j.Last())
	}
}

// Filters and rights: a reader gets only the events it asked for and may
// read; quiet commands are never in the stream.
func TestJournal_FilterAndRights(t *testing.T) {
	j := New(Config{})
	j.Applied(1, []fsm.Event{vmEvent(1, fsm.CmdCreateVM, "a-1", "a"), vmEvent(1, fsm.CmdCreateVM, "b-1", "b")})
	j.Applied(2, []fsm.Event{{Index: 2, Type: fsm.CmdReportHost, Kind: "node", ID: "n1"}})
	j.Applied(3, []fsm.Event{{Index: 3, Type: fsm.CmdSetNodeStatus, Kind: "node", ID: "n1", Name: "node-1"}})
	j.Applied(4, []fsm.Event{{Index: 4, Type: fsm.CmdCreateJoinToken, Kind: "join-token", ID: "jt"}})
	onlyA := Filter{Allowed: func(ev Event) bool { return ev.Project == "a" }}
	c := streamAll(t, j, StreamOptions{After: ptr(0)}, onlyA)
	if len(c.frames) != 1 || len(c.frames[0].Events) != 1 || c.frames[0].Events[0].ID != "a-1" {
		t.Fatalf("a reader of project a got %+v", c.frames)
	}
	c = streamAll(t, j, StreamOptions{After: ptr(0)}, Filter{})
	if !equalIndexes(c.indexes(), []uint64{1, 3, 4}) {
		t.Fatalf("frames %v: the heartbeat of index 2 must not be there", c.indexes())
	}
	if typ := c.frames[2].Events[0].Type; typ != "join_token" {
		t.Fatalf("type %q, want join_token", typ)
	}
	for _, f := range []Filter{{Types: map[string]bool{"node": true}}, {Object: "node-1"}, {Object: "n1"}} {
		if c := streamAll(t, j, StreamOptions{After: ptr(0)}, f); !equalIndexes(c.indexes(), []uint64{3}) {
			t.Errorf("filter %+v: %v, want index 3", f, c.indexes())
		}
	}
	if c := streamAll(t, j, StreamOptions{After: ptr(0)}, Filter{Project: "b"}); len(c.frames) != 1 || c.frames[0].Events[0].ID != "b-1" {
		t.Errorf("project b: %+v", c.frames)
	}
}

// Without After and without following: the last Limit matching frames.
func TestJournal_TailWithoutFollow(t *testing.T) {
	j := New(Config{})
	for i := uint64(1); i <= 20; i++ {
		j.Applied(i, []fsm.Event{vmEvent(i, fsm.CmdUpdateVM, "vm-1", "default")})
	}
	if c := streamAll(t, j, StreamOptions{Limit: 3}, Filter{}); !equalIndexes(c.indexes(), []uint64{18, 19, 20}) {
		t.Fatalf("tail of 3: %v", c.indexes())
	}
	if c := streamAll(t, j, StreamOptions{After: ptr(5), Limit: 2}, Filter{}); !equalIndexes(c.indexes(), []uint64{6, 7}) {
		t.Fatalf("2 after 5: %v", c.indexes())
	}
}

// An idle follower's heartbeat carries the index it has read, past the
// changes its filter left out, so its resume skips them.
func TestJournal_HeartbeatCarriesTheIndex(t *testing.T) {
	j := New(Config{})
	for i := uint64(1); i <= 5; i++ {
		j.Applied(i, []fsm.Event{vmEvent(i, fsm.CmdUpdateVM, "vm-1", "default")})
	}
	c := &collector{stopAfter: 2}
	j.Stream(context.Background(), StreamOptions{After: ptr(0), Follow: true, Heartbeat: 10 * time.Millisecond},
		Filter{Types: map[string]bool{"node": true}}, c.send)
	if len(c.frames) != 0 || len(c.beats) != 2 || c.beats[0].Index != 0 || c.beats[1].Index != 5 || c.beats[1].Events == nil {
		t.Fatalf("frames %+v, heartbeats %+v: want the first at 0, the next at 5 with an empty (not null) events list", c.frames, c.beats)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{"CreateVM": "create_vm", "ReportVMSnapshot": "report_vm_snapshot",
		"SetNodeStatus": "set_node_status", "UseJoinToken": "use_join_token", "DomainRemoved": "domain_removed"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
