package fsm

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// poisonedBatch is what a caller of the internal API could get into the log
// through a leader that did not check batch entries: good entries around an
// unknown type, a body that does not decode, a nested batch and a null body.
func poisonedBatch() *Batch {
	good, _ := json.Marshal(CreateVM{ID: "vm-b", Spec: testSpec("web-b", 64, 1), At: t0})
	return &Batch{Entries: []BatchEntry{
		{Type: CmdCreateVM, Body: good},
		{Type: 0x7e, Body: json.RawMessage(`{}`)},
		{Type: CmdCreateVM, Body: json.RawMessage(`{"spec": 7}`)},
		{Type: CmdBatch, Body: json.RawMessage(`{"entries":[{"t":126,"c":{}}]}`)},
		{Type: CmdSetSettings, Body: json.RawMessage(`null`)},
		{Type: CmdRegisterNode, Body: nil},
	}}
}

// poisonedLog is a log holding a poisoned batch between good entries.
func poisonedLog(t *testing.T) []*raft.Log {
	t.Helper()
	cmds := []Command{
		InitCluster{ClusterID: "c1", At: t0},
		RegisterNode{Node: testNode("n1", "node-1", 8192, 8), At: t0},
		CreateVM{ID: "vm-a", Spec: testSpec("web-a", 64, 1), At: t0},
		poisonedBatch(),
		CreateVM{ID: "vm-c", Spec: testSpec("web-c", 64, 1), At: t0},
		PlaceVM{ID: "vm-c", Node: "n1", At: t0},
	}
	var log []*raft.Log
	for i, c := range cmds {
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data})
	}
	return log
}

// replay applies entries to f, failing the test (rather than the process) if
// Apply panics, and returns each entry's result.
func replay(t *testing.T, f *FSM, entries []*raft.Log) []any {
	t.Helper()
	var out []any
	for _, l := range entries {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Apply of log index %d panicked: %v", l.Index, r)
				}
			}()
			out = append(out, f.Apply(l))
		}()
	}
	return out
}

// A node applying a log with a poisoned batch goes on, refuses each bad entry
// on its own, and comes back after a restart (a snapshot restored, the rest of
// the log replayed) to the same state as another node that applied it all.
func TestApply_PoisonedBatchDoesNotStopTheNode(t *testing.T) {
	log := poisonedLog(t)
	a, b := New(), New()
	resA, resB := replay(t, a, log), replay(t, b, log)
	if !reflect.DeepEqual(resA, resB) {
		t.Fatalf("two nodes got different results:\n%+v\n%+v", resA, resB)
	}
	batch, ok := resA[3].(BatchResult)
	if !ok || len(batch.Results) != len(poisonedBatch().Entries) {
		t.Fatalf("poisoned batch result %+v, want one per entry", resA[3])
	}
	if batch.Results[0].Err != nil {
		t.Fatalf("good entry of the batch refused: %v", batch.Results[0].Err)
	}
	for i, r := range batch.Results[1:4] {
		if !errors.Is(r.Err, ErrMalformed) {
			t.Errorf("bad entry %d: %v, want ErrMalformed", i+1, r.Err)
		}
	}
	// A null body is a zero command, checked like any other.
	if !errors.Is(batch.Results[5].Err, ErrInvalid) {
		t.Errorf("RegisterNode with a null body: %v, want ErrInvalid", batch.Results[5].Err)
	}
	for _, id := range []string{"vm-a", "vm-b", "vm-c"} {
		if _, err := a.VM(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("digests differ: %+v / %+v", da, db)
	}

	// Restart from scratch: replay the whole log.
	fresh := New()
	replay(t, fresh, log)
	if d, _ := fresh.Digest(); d != da {
		t.Fatalf("replayed node digest %+v, want %+v", d, da)
	}
	// Restart from a snapshot taken before the poisoned entry, then the rest.
	early := New()
	replay(t, early, log[:2])
	restarted := New()
	if err := restoreBytes(restarted, snapshotBytes(t, early)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	replay(t, restarted, log[2:])
	if d, _ := restarted.Digest(); d != da {
		t.Fatalf("restarted node digest %+v, want %+v", d, da)
	}
	assertSameState(t, dump(a), dump(restarted))
}

// The leader refuses a batch it could only apply in part before it reaches
// Raft: every entry must be of a type this build knows, not a batch, and
// decode.
func TestDecode_BatchChecksEveryEntry(t *testing.T) {
	good, _ := json.Marshal(CreateVM{ID: "vm-b", Spec: testSpec("web-b", 64, 1), At: t0})
	cases := map[string][]BatchEntry{
		"unknown type":           {{Type: CmdCreateVM, Body: good}, {Type: 0x7e, Body: json.RawMessage(`{}`)}},
		"ignorable unknown type": {{Type: IgnorableFlag | 0x10, Body: json.RawMessage(`{}`)}},
		"nested batch":           {{Type: CmdBatch, Body: json.RawMessage(`{"entries":[]}`)}},
		"body does not decode":   {{Type: CmdCreateVM, Body: json.RawMessage(`{"spec": 7}`)}},
		"no entries":             {},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			data, err := Encode(&Batch{Entries: entries})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: %v, want ErrMalformed", err)
			}
		})
	}
	b, err := NewBatch(CreateVM{ID: "vm-b", Spec: testSpec("web-b", 64, 1), At: t0}, InitCluster{ClusterID: "c", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := Encode(b)
	if _, err := Decode(data); err != nil {
		t.Fatalf("a good batch was refused: %v", err)
	}
}

// A panic in one applyX is that command's error, the same on every node, and
// the lock is released so the node goes on applying.
func TestApply_RecoversAPanicInOneCommand(t *testing.T) {
	orig := commands[CmdSetSettings]
	t.Cleanup(func() { commands[CmdSetSettings] = orig })
	commands[CmdSetSettings] = commandEntry{name: orig.name, new: orig.new, apply: func(*state, Command, uint64) error {
		panic("assignment to entry in nil map") // as a bug in an applyX would
	}}
	set, _ := Encode(SetSettings{At: t0})
	lone := &raft.Log{Index: 1, Type: raft.LogCommand, Data: set}
	b, _ := NewBatch(SetSettings{At: t0}, CreateVM{ID: "vm-a", Spec: testSpec("web-a", 64, 1), At: t0})
	batched, _ := Encode(b)
	for i, f := range []*FSM{New(), New()} {
		res := replay(t, f, []*raft.Log{lone, {Index: 2, Type: raft.LogCommand, Data: batched}})
		if r, ok := res[0].(Result); !ok || !errors.Is(r.Err, ErrMalformed) {
			t.Fatalf("node %d: lone panicking command: %+v, want ErrMalformed", i, res[0])
		}
		br, ok := res[1].(BatchResult)
		if !ok || !errors.Is(br.Results[0].Err, ErrMalformed) || br.Results[1].Err != nil {
			t.Fatalf("node %d: batch with a panicking command: %+v", i, res[1])
		}
		if f.AppliedIndex() != 2 {
			t.Fatalf("node %d: applied %d, want 2", i, f.AppliedIndex())
		}
		if _, err := f.VM("vm-a"); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

// Every registered command type is either accepted from other nodes or listed
// as never forwarded, with a reason.
func TestForwardable_EveryTypeClassified(t *testing.T) {
	for typ := range commands {
		_, fwd := forwardable[typ]
		_, not := notForwarded[typ]
		if fwd == not {
			t.Errorf("command type %s: forwardable %v, not forwarded %v; put it in exactly one table", typ, fwd, not)
		}
	}
	for typ := range forwardable {
		if _, ok := commands[typ]; !ok {
			t.Errorf("forwardable lists unregistered type %d", typ)
		}
	}
}

func TestForwardable_RefusesLeaderOnlyCommands(t *testing.T) {
	init := InitCluster{ClusterID: "c", At: t0}
	if err := Forwardable(init); !errors.Is(err, ErrMalformed) {
		t.Fatalf("InitCluster: %v, want ErrMalformed", err)
	}
	b, _ := NewBatch(CreateVM{ID: "vm-a", Spec: testSpec("web-a", 64, 1), At: t0}, init)
	if err := Forwardable(b); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "InitCluster") {
		t.Fatalf("batch holding InitCluster: %v, want ErrMalformed naming it", err)
	}
	ok, _ := NewBatch(ReportVM{ID: "vm-a"}, ReportVM{ID: "vm-b"})
	for _, c := range []Command{ok, CreateVM{}, SetNodeStatus{}, BootstrapToken{}} {
		if err := Forwardable(c); err != nil {
			t.Errorf("%s: %v", c.Type(), err)
		}
	}
}
