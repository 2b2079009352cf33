package fsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// t0 is the time every test command carries unless it says otherwise. It is UTC
// without a monotonic reading, so it survives a JSON round trip unchanged.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testFSM is an FSM that numbers the commands applied through it.
type testFSM struct {
	*FSM
	t     *testing.T
	index uint64
}

func newTestFSM(t *testing.T) *testFSM {
	t.Helper()
	return &testFSM{FSM: New(), t: t}
}

// apply applies cmd at the next index and returns the command's error. Every
// test's commands then keep the derived indexes right (checkInvariants).
func (f *testFSM) apply(cmd Command) error {
	f.index++
	err := f.ApplyCommand(cmd, f.index)
	checkInvariants(f.t, int(f.index), cmd, f.FSM)
	return err
}

// must applies cmd and fails the test if it is refused.
func (f *testFSM) must(cmd Command) {
	f.t.Helper()
	if err := f.apply(cmd); err != nil {
		f.t.Fatalf("apply %s %+v: %v", cmd.Type(), cmd, err)
	}
}

// refuse applies cmd and fails the test unless it is refused with kind.
func (f *testFSM) refuse(cmd Command, kind error) error {
	f.t.Helper()
	err := f.apply(cmd)
	if !errors.Is(err, kind) {
		f.t.Fatalf("apply %s %+v: got %v, want %v", cmd.Type(), cmd, err, kind)
	}
	return err
}

func (f *testFSM) vm(id string) VM {
	f.t.Helper()
	vm, err := f.VM(id)
	if err != nil {
		f.t.Fatalf("vm %s: %v", id, err)
	}
	return vm
}

func (f *testFSM) node(id string) Node {
	f.t.Helper()
	n, err := f.Node(id)
	if err != nil {
		f.t.Fatalf("node %s: %v", id, err)
	}
	return n
}

// addNode registers an alive node with the given memory and vCPUs.
func (f *testFSM) addNode(id, name string, memMiB int64, vcpus int) {
	f.t.Helper()
	f.must(RegisterNode{Node: testNode(id, name, memMiB, vcpus), At: t0})
}

func testNode(id, name string, memMiB int64, vcpus int) Node {
	return Node{
		ID: id, Name: name, RaftAddr: "10.0.0.1:7000", APIAddr: "10.0.0.1:8080", GossipAddr: "10.0.0.1:7946",
		Version: "test", Capacity: Capacity{VCPUs: vcpus, MemoryMiB: memMiB, DiskGiB: 100},
		Labels: map[string]string{"rack": "r1"}, Hypervisor: HypervisorInfo{Driver: "sim", URI: "sim://" + name},
		Status: NodeAlive,
	}
}

func testSpec(name string, memMiB int64, vcpus int) VMSpec {
	return VMSpec{Name: name, VCPUs: vcpus, MemoryMiB: memMiB, DiskGiB: 10, Labels: map[string]string{"app": "web"}}
}

func testToken(id, name, secret string) Token {
	return Token{ID: id, Name: name, Role: "admin", Hash: HashSecret(secret), CreatedAt: t0}
}

// fsmDump is everything the query methods show, for comparing two FSMs.
type fsmDump struct {
	Nodes      []Node
	VMs        []VM
	Tokens     []Token
	Cluster    ClusterInfo
	Applied    uint64
	Allocated  map[string]Capacity
	Settings   Settings
	Migrations []Migration
	Incoming   map[string]Capacity
	Failovers  []Failover
	Keyring    Keyring
	Removals   []Removal
	Projects   []Project
	Users      []User
	Sessions   []Session
	Pools      []StoragePool
	Images     []Image
	Volumes    []Volume
}

func dump(f *FSM) fsmDump {
	d := fsmDump{Nodes: f.Nodes(), VMs: f.VMs(), Tokens: f.Tokens(), Cluster: f.Cluster(), Applied: f.AppliedIndex(), Allocated: map[string]Capacity{},
		Settings: f.Settings(), Migrations: f.Migrations(), Incoming: f.Incoming(), Failovers: f.Failovers(), Keyring: f.GossipKeyring(), Removals: f.Removals(), Projects: f.Projects(), Users: f.Users(), Sessions: f.Sessions(""),
		Pools: f.Pools(), Images: f.Images(), Volumes: f.Volumes()}
	ids := map[string]bool{}
	for _, n := range d.Nodes {
		ids[n.ID] = true
	}
	for _, vm := range d.VMs {
		ids[vm.Node] = true
	}
	for id := range ids {
		if a := f.Allocated(id); a != (Capacity{}) {
			d.Allocated[id] = a
		}
	}
	return d
}

// assertSameState compares two states as the API shows them: an empty list
// or map and a missing one are the same (MessagePack, the log's format since
// issue 12, decodes an empty list as none).
func assertSameState(t *testing.T, want, got fsmDump) {
	t.Helper()
	if !sameValue(reflect.ValueOf(want), reflect.ValueOf(got)) {
		t.Fatalf("state differs\nwant %+v\ngot  %+v", want, got)
	}
}

// memSink is a raft.SnapshotSink that writes to memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// snapshotBytes takes a snapshot of f and persists it to memory.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// nopCloser turns a reader into the ReadCloser Restore wants.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// snapshotV1Bytes is snapshotBytes in snapshot format 1 (JSON lines), as
// nodes wrote before issue 12: Restore must still read it.
func snapshotV1Bytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snap := s.(*snapshot)
	snap.header.Version = snapshotJSONLines
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(snap.header); err != nil {
		t.Fatal(err)
	}
	for i := range snap.records {
		if err := enc.Encode(&snap.records[i]); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// binaryRecord frames one format-2 snapshot record.
func binaryRecord(kind byte, body []byte) []byte {
	return append(binary.AppendUvarint([]byte{kind}, uint64(len(body))), body...)
}

func restoreBytes(f *FSM, b []byte) error {
	return f.Restore(nopCloser{bytes.NewReader(b)})
}

func numbered(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// sameValue is reflect.DeepEqual but for empty and nil slices and maps, which
// it takes as equal.
func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time)) && reflect.DeepEqual(a.Interface(), b.Interface())
		}
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() && !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !sameValue(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
