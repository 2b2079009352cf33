package fsm

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// Rejection counts are an object on the wire, in JSON and in MessagePack,
// sorted by kind in memory whatever order the object had; none is nil.
func TestKindCounts_ObjectOnTheWireSortedInMemory(t *testing.T) {
	var c KindCounts
	c.Add("vcpus", 1)
	c.Add("memory", 2)
	c.Add("vcpus", 2)
	want := KindCounts{{Kind: "memory", Count: 2}, {Kind: "vcpus", Count: 3}}
	if !reflect.DeepEqual(c, want) || c.Get("vcpus") != 3 || c.Get("disk") != 0 {
		t.Fatalf("counts %v, want %v", c, want)
	}
	out, err := json.Marshal(Decision{RejectedCounts: c})
	if err != nil || !json.Valid(out) || !strings.Contains(string(out), `"rejected_counts":{"memory":2,"vcpus":3}`) {
		t.Fatalf("JSON %s (%v)", out, err)
	}
	var fromJSON KindCounts
	if err := json.Unmarshal([]byte(`{"vcpus":3,"memory":2}`), &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, want) {
		t.Fatalf("from JSON %v (%v)", fromJSON, err)
	}
	if out, _ := json.Marshal(Decision{}); strings.Contains(string(out), "rejected_counts") {
		t.Fatalf("no counts should leave the field out: %s", out)
	}
	b, err := want.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var fromMsgp KindCounts
	if rest, err := fromMsgp.UnmarshalMsg(b); err != nil || len(rest) != 0 || !reflect.DeepEqual(fromMsgp, want) {
		t.Fatalf("from MessagePack %v, rest %d (%v)", fromMsgp, len(rest), err)
	}
	if _, err := fromMsgp.UnmarshalMsg(b[:len(b)-1]); err == nil {
		t.Fatal("a truncated map was accepted")
	}
	// No counts are an empty map, not nil: nodes still running the code
	// that decoded a map[string]int read a map header and refuse nil.
	for _, none := range []KindCounts{nil, {}} {
		empty, _ := none.MarshalMsg(nil)
		if n, rest, err := msgp.ReadMapHeaderBytes(empty); err != nil || n != 0 || len(rest) != 0 {
			t.Fatalf("no counts written as %x: not an empty map (%v)", empty, err)
		}
		fromMsgp = want
		if _, err := fromMsgp.UnmarshalMsg(empty); err != nil || fromMsgp != nil {
			t.Fatalf("no counts came back as %v (%v), want nil", fromMsgp, err)
		}
	}
	fromMsgp = want
	if _, err := fromMsgp.UnmarshalMsg(msgp.AppendNil(nil)); err != nil || fromMsgp != nil {
		t.Fatalf("nil came back as %v (%v), want nil", fromMsgp, err)
	}
	if !want.SameKinds(KindCounts{{Kind: "memory", Count: 9}, {Kind: "vcpus", Count: 1}}) || want.SameKinds(KindCounts{{Kind: "memory", Count: 2}}) {
		t.Fatal("SameKinds compares the counts or misses a kind")
	}
}
