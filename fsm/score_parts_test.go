package fsm

import (
	"encoding/json"
	"reflect"
	"testing"
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
