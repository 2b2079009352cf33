package fsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/tinylib/msgp/msgp"
)

// withFutureField adds a field no build knows to the JSON object reached by
// following keys from the top of b, as a newer node's encoder would.
func withFutureField(t *testing.T, b []byte, keys ...string) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("not an object: %s", b)
	}
	if len(keys) > 0 {
		inner, ok := obj[keys[0]]
		if !ok {
			t.Fatalf("no key %q in %s", keys[0], b)
		}
		obj[keys[0]] = withFutureField(t, inner, keys[1:]...)
	} else {
		obj["field_from_the_future"] = json.RawMessage(`{"gpus":[1,2],"mode":"x"}`)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withFutureFieldMsgp is withFutureField for MessagePack (log format 2).
func withFutureFieldMsgp(t *testing.T, b []byte, keys ...string) []byte {
	t.Helper()
	v, rest, err := msgp.ReadIntfBytes(b)
	obj, ok := v.(map[string]any)
	if err != nil || !ok || len(rest) != 0 {
		t.Fatalf("not a MessagePack map: %v", err)
	}
	inner := obj
	for _, k := range keys {
		if inner, ok = inner[k].(map[string]any); !ok {
			t.Fatalf("no map at key %q", k)
		}
	}
	inner["field_from_the_future"] = map[string]any{"gpus": []any{int64(1), int64(2)}, "mode": "x"}
	out, err := msgp.AppendIntf(nil, obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unknownFieldPath builds a state by decoding through one path (a log entry, a
// batch entry, a snapshot line); touch rewrites the JSON that path decodes, at keys.
type unknownFieldPath func(t *testing.T, touch func(b []byte) []byte) (fsmDump, error)

var unknownFieldPaths = map[string]struct {
	build unknownFieldPath
	// top and nested are where the future field goes, from the top of the JSON.
	top, nested []string
	// msgp: the path decodes MessagePack (log format 2), not JSON.
	msgp bool
}{
	"log entry": {top: nil, nested: []string{"spec"}, msgp: true, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		f := newTestFSM(t)
		f.addNode("n1", "node-1", 4096, 4)
		data, err := Encode(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		data = append(data[:2:2], touch(data[2:])...)
		res := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: data}).(Result)
		return dump(f.FSM), res.Err
	}},
	"batch entry": {top: nil, nested: []string{"spec"}, msgp: true, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		f := newTestFSM(t)
		f.addNode("n1", "node-1", 4096, 4)
		b, err := NewBatch(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		b.Entries[0].Body = touch(b.Entries[0].Body)
		res := applyBatchEntry(t, f.FSM, b, 2)
		return dump(f.FSM), res.Results[0].Err
	}},
	"format-1 log entry": {top: nil, nested: []string{"spec"}, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		f := newTestFSM(t)
		f.addNode("n1", "node-1", 4096, 4)
		body, err := json.Marshal(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		data := append([]byte{byte(CmdCreateVM)}, touch(body)...)
		res := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: data}).(Result)
		return dump(f.FSM), res.Err
	}},
	"format-1 batch entry": {top: nil, nested: []string{"spec"}, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		f := newTestFSM(t)
		f.addNode("n1", "node-1", 4096, 4)
		body, err := json.Marshal(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		b := &Batch{Entries: []BatchEntry{{Type: CmdCreateVM, Body: touch(body)}}}
		res := applyBatchEntry(t, f.FSM, b, 2)
		return dump(f.FSM), res.Results[0].Err
	}},
	"snapshot record": {top: nil, nested: []string{"spec"}, msgp: true, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		return restoreTouchedBinary(t, recordVM, touch)
	}},
	"format-1 snapshot record": {top: []string{"vm"}, nested: []string{"vm", "spec"}, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		return restoreTouched(t, func(line []byte) bool { return bytes.HasPrefix(line, []byte(`{"vm":`)) }, touch)
	}},
	"snapshot header": {top: nil, nested: []string{"cluster"}, build: func(t *testing.T, touch func([]byte) []byte) (fsmDump, error) {
		return restoreTouched(t, func(line []byte) bool { return bytes.HasPrefix(line, []byte(`{"version":`)) }, touch)
	}},
}

// restoreTouched snapshots a small state in format 1 (JSON lines), rewrites the one line that match picks,
// and restores the result into a fresh FSM.
func restoreTouched(t *testing.T, match func([]byte) bool, touch func([]byte) []byte) (fsmDump, error) {
	t.Helper()
	src := newTestFSM(t)
	src.must(InitCluster{ClusterID: "cluster-1", At: t0})
	src.addNode("n1", "node-1", 4096, 4)
	src.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
	lines := bytes.Split(bytes.TrimSuffix(snapshotV1Bytes(t, src.FSM), []byte("\n")), []byte("\n"))
	touched := 0
	for i, line := range lines {
		if match(line) {
			lines[i] = touch(line)
			touched++
		}
	}
	if touched != 1 {
		t.Fatalf("%d snapshot lines matched, want 1", touched)
	}
	dst := New()
	err := restoreBytes(dst, append(bytes.Join(lines, []byte("\n")), '\n'))
	return dump(dst), err
}

// restoreTouchedBinary snapshots the same small state in format 2, rewrites
// the body of the one record of kind, and restores the result.
func restoreTouchedBinary(t *testing.T, kind byte, touch func([]byte) []byte) (fsmDump, error) {
	t.Helper()
	src := newTestFSM(t)
	src.must(InitCluster{ClusterID: "cluster-1", At: t0})
	src.addNode("n1", "node-1", 4096, 4)
	src.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 512, 1), Node: "n1", At: t0})
	data := snapshotBytes(t, src.FSM)
	header, rest, _ := bytes.Cut(data, []byte("\n"))
	out := append(append([]byte{}, header...), '\n')
	touched := 0
	for len(rest) > 0 {
		k := rest[0]
		size, n := binary.Uvarint(rest[1:])
		body := rest[1+n : 1+n+int(size)]
		rest = rest[1+n+int(size):]
		if k == kind {
			body = touch(body)
			touched++
		}
		out = append(out, binaryRecord(k, body)...)
	}
	if touched != 1 {
		t.Fatalf("%d records of kind %d, want 1", touched, kind)
	}
	dst := New()
	err := restoreBytes(dst, out)
	return dump(dst), err
}

// TestUnknownFields_SamePolicy pins the one policy of decodeJSON: a field this
// build does not know, at the top or nested, is ignored alike in log entries,
// batch entries and snapshots, and the state is what it would be without it.
func TestUnknownFields_SamePolicy(t *testing.T) {
	for name, p := range unknownFieldPaths {
		want, err := p.build(t, func(b []byte) []byte { return b })
		if err != nil {
			t.Fatalf("%s without an unknown field: %v", name, err)
		}
		if len(want.VMs) != 1 {
			t.Fatalf("%s: fixture has %d VMs, want 1", name, len(want.VMs))
		}
		for where, keys := range map[string][]string{"top": p.top, "nested": p.nested} {
			touch := func(b []byte) []byte { return withFutureField(t, b, keys...) }
			if p.msgp {
				touch = func(b []byte) []byte { return withFutureFieldMsgp(t, b, keys...) }
			}
			got, err := p.build(t, touch)
			if err != nil {
				t.Fatalf("%s, unknown field at %s level: refused with %v, want it ignored", name, where, err)
			}
			assertSameState(t, want, got)
		}
	}
}

// TestUnknownKinds_StopTheNode is the other half of the policy: what this build
// cannot represent is never skipped, in the log or in a snapshot.
func TestUnknownKinds_StopTheNode(t *testing.T) {
	t.Run("log entry", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("an unknown, non-ignorable command type was applied")
			}
		}()
		New().Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{0x7d, '{', '}'}})
	})
	t.Run("format-2 snapshot record", func(t *testing.T) {
		f := richFSM(t)
		data := append(snapshotBytes(t, f.FSM), binaryRecord(99, []byte{0x80})...)
		err := restoreBytes(New(), data)
		if err == nil || !strings.Contains(err.Error(), "no entity kind this node knows") {
			t.Fatalf("a record of an unknown kind: %v, want a refused restore", err)
		}
	})
	t.Run("snapshot record", func(t *testing.T) {
		_, err := restoreTouched(t, func(line []byte) bool { return bytes.HasPrefix(line, []byte(`{"vm":`)) },
			func([]byte) []byte { return []byte(`{"gadget":{"id":"g-1"}}`) })
		if err == nil || !strings.Contains(err.Error(), "no entity kind this node knows") {
			t.Fatalf("a record of an unknown kind: %v, want a refused restore", err)
		}
	})
}

// Every list and map field written to the log or a snapshot is omitempty, so
// an empty one and a missing one encode alike (MessagePack decodes an empty
// list as none): otherwise two nodes, one that built its state from the log
// and one that restored a snapshot, could digest differently.
func TestEncoding_EmptyListsAreOmitted(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var check func(t *testing.T, typ reflect.Type)
	check = func(t *testing.T, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[VM]().PkgPath() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if k := f.Type.Kind(); (k == reflect.Slice || k == reflect.Map) && f.Type != reflect.TypeFor[ScoreParts]() && !strings.Contains(tag, ",omitempty") {
				t.Errorf("%s.%s (%s) is a list or map without omitempty", typ.Name(), f.Name, tag)
			}
			check(t, f.Type)
		}
	}
	for _, c := range everyCommand() {
		if c.Type() != CmdBatch {
			check(t, reflect.TypeOf(c))
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Node](), reflect.TypeFor[VM](), reflect.TypeFor[Token](),
		reflect.TypeFor[Migration](), reflect.TypeFor[Failover](), reflect.TypeFor[JoinToken](), reflect.TypeFor[snapshotHeader]()} {
		check(t, typ)
	}
}
