package fsm

import (
	"encoding/json"
	"reflect"
	"testing"
	"unsafe"

	"github.com/hashicorp/raft"
)

// Score parts are an object on the wire, in JSON and in MessagePack, and come
// back sorted by name whatever order the object had, so every node holds the
// same slice.
func TestScoreParts_ObjectOnTheWireSortedInMemory(t *testing.T) {
	want := ScoreParts{{Name: "affinity", Value: 1}, {Name: "preferred", Value: 1}, {Name: "strategy", Value: 0.5}}
	var fromJSON ScoreParts
	if err := json.Unmarshal([]byte(`{"strategy":0.5,"preferred":1,"affinity":1}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, want) {
		t.Fatalf("from JSON %v, want %v", fromJSON, want)
	}
	out, err := json.Marshal(CandidateScore{NodeID: "n1", Parts: want})
	if err != nil || string(out) != `{"node_id":"n1","node_name":"","score":0,"parts":{"affinity":1,"preferred":1,"strategy":0.5}}` {
		t.Fatalf("JSON %s (%v)", out, err)
	}
	b, err := want.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var fromMsgp ScoreParts
	if rest, err := fromMsgp.UnmarshalMsg(b); err != nil || len(rest) != 0 || !reflect.DeepEqual(fromMsgp, want) {
		t.Fatalf("from MessagePack %v (%v, %d bytes left), want %v", fromMsgp, err, len(rest), want)
	}
	if v, ok := want.Get("strategy"); !ok || v != 0.5 {
		t.Fatalf("Get(strategy) = %v %v", v, ok)
	}
	var none ScoreParts
	if b, _ := none.MarshalMsg(nil); len(b) != 1 {
		t.Fatalf("nil parts encode as %x, want MessagePack nil", b)
	}
	if _, err := new(ScoreParts).UnmarshalMsg([]byte{0x8f}); err == nil {
		t.Fatal("a map header claiming 15 entries with none after it decoded")
	}
}

// Stored decisions share their nodes' ID strings with the node records and
// one copy of each repeated word, however many copies decoding made.
func TestStoredDecisions_ShareNodeStringsAndWords(t *testing.T) {
	f := New()
	if err := f.ApplyCommand(&RegisterNode{Node: Node{ID: "node-id-1", Name: "node-1", Status: NodeAlive, Capacity: Capacity{VCPUs: 64, MemoryMiB: 65536, DiskGiB: 1000}}}, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		cv := benchFleetCreate(i)
		cv.Node, cv.Decision.Node, cv.Decision.NodeName = "node-id-1", "node-id-1", "node-1"
		cv.Decision.Candidates[0].NodeID, cv.Decision.Candidates[0].NodeName = "node-id-1", "node-1"
		data, err := Encode(cv)
		if err != nil {
			t.Fatal(err)
		}
		if res := f.Apply(&raft.Log{Index: uint64(i + 2), Data: data}).(Result); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	a, b := f.s.vms[benchFleetCreate(0).ID].Decision, f.s.vms[benchFleetCreate(1).ID].Decision
	same := func(what, x, y string) {
		t.Helper()
		if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q and %q are two copies", what, x, y)
		}
	}
	node := f.s.nodes["node-id-1"]
	same("decision's node ID", a.Node, node.ID)
	same("candidate's node ID", a.Candidates[0].NodeID, node.ID)
	same("candidate's node name", b.Candidates[0].NodeName, node.Name)
	same("strategy", a.Strategy, b.Strategy)
	same("score part", a.Candidates[1].Parts[0].Name, b.Candidates[2].Parts[0].Name)
	same("kind", a.Rejected[0].Kind, b.Rejected[1].Kind)
	same("rejection count's kind", a.RejectedCounts[0].Kind, b.RejectedCounts[0].Kind)
}
