package fsm

import (
	"bytes"
	"errors"
	"testing"
)

// richFSM holds one of everything: nodes in several statuses, VMs pending,
// placed, reported and moved, tokens, cluster identity and the bootstrap flag.
func richFSM(t *testing.T) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	f.must(InitCluster{ClusterID: "cluster-1", At: t0})
	f.addNode("n1", "node-1", 8192, 8)
	f.addNode("n2", "node-2", 4096, 4)
	f.addNode("n3", "node-3", 4096, 4)
	f.must(SetNodeStatus{ID: "n3", Status: NodeSuspect, Cause: "gossip", At: t0})
	f.must(SetMaintenance{ID: "n3", Maintenance: true, Reason: "operator", At: t0})
	f.must(BootstrapToken{Token: testToken("root", "root", "root-secret")})
	f.must(CreateToken{Token: testToken("tok-1", "ci", "ci-secret")})
	spec := testSpec("kernel-vm", 512, 1)
	spec.Boot = &BootSource{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0"}
	f.must(CreateVM{ID: "vm-1", Spec: spec, Node: "n1", Reason: "most free memory", At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("pending", 99999, 1), At: t0})
	f.must(CreateVM{ID: "vm-3", Spec: testSpec("moved", 1024, 2), Node: "n1", At: t0})
	f.must(ReportVM{ID: "vm-3", Node: "n1", Generation: 1, State: VMRunning, At: t0})
	f.must(PlaceVM{ID: "vm-3", Node: "n2", FromGeneration: 1, Reason: "rebalance", At: t0})
	f.must(VMAction{ID: "vm-1", Action: ActionRestart, At: t0})
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMPaused, RestartSeq: 1, At: t0})
	f.must(SetSettings{Settings: Settings{Strategy: StrategyBinpack, CPUOvercommit: 2}, At: t0})
	// One migration that failed, one still waiting (it reserves room on n1).
	f.must(CreateMigration{ID: "mig-1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Reason: "user", At: t0})
	f.must(UpdateMigration{ID: "mig-1", State: MigrationFailed, Error: "destination unreachable", At: t0})
	f.must(CreateMigration{ID: "mig-2", VMID: "vm-3", Mode: MigrateCold, Target: "n1", Reason: "drain", At: t0})
	f.must(StartFailover{Failover: Failover{ID: "fo-1", Node: "n3", Cause: "no lease renewal", DetectedAt: t0, FencedAt: t0, RestartedAt: t0}})
	f.must(GossipKeyring{Op: KeyringInit, Key: testKey(1), Keys: []string{testKey(1)}, At: t0})
	f.must(GossipKeyring{Op: KeyringInstall, Key: testKey(2), At: t0})
	// One volume attached to a VM, one detached.
	f.must(CreateVolume{Volume: Volume{ID: "vol-1", Name: "data", SizeGiB: 4, CreatedAt: t0}})
	f.must(CreateVolume{Volume: Volume{ID: "vol-2", Name: "spare", SizeGiB: 1, CreatedAt: t0}})
	f.must(AttachVolume{ID: "vol-1", VM: "vm-1", At: t0})
	return f
}

func TestSnapshot_RestoreRoundTrip(t *testing.T) {
	src := richFSM(t)
	want := dump(src.FSM)
	if len(want.Allocated) != 2 || want.Applied == 0 || !want.Cluster.TokenBootstrapped {
		t.Fatalf("fixture is too thin: %+v", want)
	}
	b := snapshotBytes(t, src.FSM)
	dst := newTestFSM(t)
	if err := restoreBytes(dst.FSM, b); err != nil {
		t.Fatalf("restore: %v", err)
	}
	assertSameState(t, want, dump(dst.FSM))
	// The indexes were rebuilt too: names, secrets and allocations work.
	if vm, err := dst.VMByName("", "moved"); err != nil || vm.ID != "vm-3" {
		t.Fatalf("VMByName after restore: %+v %v", vm, err)
	}
	if tok, err := dst.TokenByHash(HashSecret("ci-secret")); err != nil || tok.ID != "tok-1" {
		t.Fatalf("TokenByHash after restore: %+v %v", tok, err)
	}
	dst.index = dst.AppliedIndex()
	dst.refuse(CreateVM{ID: "vm-9", Spec: testSpec("moved", 1, 1), At: t0}, ErrConflict)
	dst.refuse(BootstrapToken{Token: testToken("root-2", "root", "x")}, ErrConflict)
	if err := dst.Fits("n2", testSpec("x", 3072, 1)); err != nil {
		t.Fatalf("fits after restore: %v", err)
	}
	if err := dst.Fits("n2", testSpec("x", 3073, 1)); !errors.Is(err, ErrState) {
		t.Fatalf("fits after restore ignores allocation: %v", err)
	}
	// A snapshot of the restored state is the same state again.
	again := newTestFSM(t)
	if err := restoreBytes(again.FSM, snapshotBytes(t, dst.FSM)); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(dst.FSM), dump(again.FSM))
}

func TestSnapshot_EmptyState(t *testing.T) {
	src := newTestFSM(t)
	dst := richFSM(t)
	if err := restoreBytes(dst.FSM, snapshotBytes(t, src.FSM)); err != nil {
		t.Fatal(err)
	}
	// Restore replaces the state; nothing of the old one survives.
	assertSameState(t, dump(src.FSM), dump(dst.FSM))
	if _, err := dst.VMByName("", "moved"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name index survived restore: %v", err)
	}
}

func TestSnapshot_PointInTime(t *testing.T) {
	f := richFSM(t)
	want := dump(f.FSM)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after Snapshot do not reach the persisted stream.
	f.must(DeleteVM{ID: "vm-1"})
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, At: t0})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	dst := New()
	if err := restoreBytes(dst, sink.Bytes()); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, want, dump(dst))
}

func TestRestore_BadInputLeavesStateAlone(t *testing.T) {
	// Format 1 (JSON lines), as nodes wrote before issue 12.
	good := snapshotV1Bytes(t, richFSM(t).FSM)
	header, _, _ := bytes.Cut(good, []byte("\n"))
	// Format 2 (binary records).
	good2 := snapshotBytes(t, richFSM(t).FSM)
	header2, _, _ := bytes.Cut(good2, []byte("\n"))
	vm, err := (&VM{ID: "a", Spec: VMSpec{Name: "x"}}).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	vmOtherID, _ := (&VM{ID: "b", Spec: VMSpec{Name: "x"}}).MarshalMsg(nil)
	h2 := string(header2) + "\n"
	cases := map[string]string{
		"empty":                       "",
		"garbage":                     "this is not a snapshot",
		"wrong version":               `{"version":3,"index":5,"cluster":{}}` + "\n",
		"2: truncated body":           string(good2[:len(good2)-3]),
		"2: length past the end":      h2 + string(binaryRecord(recordVM, vm)[:3]),
		"2: huge length":              h2 + string([]byte{recordVM, 0xff, 0xff, 0xff, 0xff, 0x7f}),
		"2: body does not decode":     h2 + string(binaryRecord(recordNode, []byte{0xc1})),
		"2: bytes after the entity":   h2 + string(binaryRecord(recordVM, append(vm, 0x01))),
		"2: duplicate vm name":        h2 + string(binaryRecord(recordVM, vm)) + string(binaryRecord(recordVM, vmOtherID)),
		"2: kind this build lacks":    h2 + string(binaryRecord(42, vm)),
		"2: trailing byte after last": string(good2) + "\x02",
		"no version":                  `{"index":5,"cluster":{}}` + "\n",
		"bad record":                  string(header) + "\n{\"node\": {\"id\": 7}}\n",
		"truncated record":            string(header) + "\n{\"node\": {\"id\": \"x\"",
		"empty record":                string(header) + "\n{}\n",
		"unknown record":              string(header) + "\n{\"volume\": {\"id\": \"x\"}}\n",
		"trailing garbage":            string(good) + "garbage",
		"record without id":           string(header) + "\n{\"vm\": {\"spec\": {\"name\": \"a\"}}}\n",
		"duplicate id":                string(good) + "{\"node\": {\"id\": \"n1\"}}\n",
		"duplicate vm name":           string(header) + "\n{\"vm\": {\"id\": \"a\", \"spec\": {\"name\": \"x\"}}}\n{\"vm\": {\"id\": \"b\", \"spec\": {\"name\": \"x\"}}}\n",
		"two entities":                string(header) + "\n{\"node\": {\"id\": \"x\"}, \"token\": {\"id\": \"y\"}}\n",
	}
	for why, in := range cases {
		f := richFSM(t)
		before := dump(f.FSM)
		if err := restoreBytes(f.FSM, []byte(in)); err == nil {
			t.Fatalf("%s: restore succeeded", why)
		}
		assertSameState(t, before, dump(f.FSM))
		// The FSM still works after the refused restore.
		f.must(CreateVM{ID: "vm-new", Spec: testSpec("new", 64, 1), At: t0})
	}
}

// failingSink fails every write, as a full disk would.
type failingSink struct{ memSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestSnapshot_PersistCancelsOnWriteError(t *testing.T) {
	snap, err := richFSM(t).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("persist to a failing sink succeeded")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

// A snapshot in format 1 (JSON lines, before issue 12) restores to the same
// state and digest as one in format 2.
func TestRestore_Format1SnapshotStillRestores(t *testing.T) {
	src := richFSM(t)
	fromV1, fromV2 := New(), New()
	if err := restoreBytes(fromV1, snapshotV1Bytes(t, src.FSM)); err != nil {
		t.Fatal(err)
	}
	if err := restoreBytes(fromV2, snapshotBytes(t, src.FSM)); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(src.FSM), dump(fromV1))
	d1, err1 := fromV1.Digest()
	d2, err2 := fromV2.Digest()
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Fatalf("digests after restoring format 1 and 2: %+v (%v), %+v (%v)", d1, err1, d2, err2)
	}
}
