package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// The fuzz targets run their committed seeds (testdata/fuzz/FuzzX) as normal
// tests; `make fuzz` runs them for a while. Set NOVACRON_WRITE_FUZZ_SEEDS=1 and
// run TestFuzzSeeds_Write to write the seeds again.

// FuzzDecode: decoding what a node receives never panics, and what it accepts
// encodes and decodes again.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := Decode(data)
		if err != nil {
			return
		}
		_ = Forwardable(cmd)
		_, _ = Requires(cmd)
		again, err := Encode(cmd)
		if err != nil {
			t.Fatalf("accepted command does not encode: %v", err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("accepted command does not decode again: %v\n%q", err, again)
		}
	})
}

// fuzzBase is the snapshot of a small cluster that FuzzApply applies to: a
// command that finds nothing to act on reaches little of its applyX.
var fuzzBase struct {
	once sync.Once
	snap []byte
}

func fuzzBaseFSM(t *testing.T) *FSM {
	fuzzBase.once.Do(func() { fuzzBase.snap = snapshotBytes(t, richFSM(t).FSM) })
	f := New()
	if err := restoreBytes(f, fuzzBase.snap); err != nil {
		t.Fatal(err)
	}
	return f
}

// FuzzApply: applying any entry, except a top-level type this build does not
// know (which stops the node by design), never panics, not even a panic that
// Apply recovers; keeps the derived indexes right; and gives two nodes the
// same state.
func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var unknown *UnknownCommandError
		if _, err := decodeEntry(data); errors.As(err, &unknown) && !unknown.Ignorable() {
			return
		}
		before := recoveredPanics.Load()
		a, b := fuzzBaseFSM(t), fuzzBaseFSM(t)
		l := &raft.Log{Index: a.AppliedIndex() + 1, Type: raft.LogCommand, Data: data}
		resA := a.Apply(l)
		b.Apply(l)
		if n := recoveredPanics.Load() - before; n != 0 {
			t.Fatalf("applying %q panicked (recovered %d): %+v", data, n, resA)
		}
		cmd, _ := decodeEntry(data)
		if cmd == nil {
			cmd = Batch{}
		}
		checkInvariants(t, 0, cmd, a)
		da, _ := a.Digest()
		db, _ := b.Digest()
		if da != db {
			t.Fatalf("two nodes differ after %q", data)
		}
	})
}

// FuzzRestore: restoring any snapshot stream returns an error or a state that
// can be read, snapshotted and restored to the same digest, and that applying
// commands to does not panic.
func FuzzRestore(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New()
		if err := restoreBytes(r, data); err != nil {
			return
		}
		r.Nodes()
		r.VMs()
		r.Migrations()
		r.Failovers()
		r.Tokens()
		r.Settings()
		for _, n := range r.Nodes() {
			r.Allocated(n.ID)
			r.Fits(n.ID, testSpec("x", 1, 1))
		}
		again := New()
		if err := restoreBytes(again, snapshotBytes(t, r)); err != nil {
			t.Fatalf("a restored state does not restore again: %v", err)
		}
		// Compared as the cluster compares replicas: an empty map read from the
		// stream comes back nil, which the digest (as the snapshot) does not tell
		// apart (seed f1416c6636cfc92d).
		d1, _ := r.Digest()
		d2, _ := again.Digest()
		if d1 != d2 {
			t.Fatalf("a restored state restores to another: %+v / %+v", d1, d2)
		}
		before := recoveredPanics.Load()
		index := r.AppliedIndex()
		for _, cmd := range touchEverything(r) {
			index++
			r.ApplyCommand(cmd, index)
		}
		if n := recoveredPanics.Load() - before; n != 0 {
			t.Fatalf("applying to a restored state panicked (recovered %d)", n)
		}
	})
}

// touchEverything returns commands that act on every record of f.
func touchEverything(f *FSM) []Command {
	var cmds []Command
	for _, n := range f.Nodes() {
		cmds = append(cmds,
			ReportHost{ID: n.ID, Foreign: []string{"x"}},
			SetMaintenance{ID: n.ID, Maintenance: true, At: t0},
			SetNodeStatus{ID: n.ID, Status: NodeFailed, At: t0},
			RegisterNode{Node: n, At: t0})
	}
	for _, vm := range f.VMs() {
		cmds = append(cmds,
			ReportVM{ID: vm.ID, Node: vm.Node, Generation: vm.Generation, State: VMRunning, At: t0},
			VMAction{ID: vm.ID, Action: ActionRestart, At: t0},
			UpdateVM{ID: vm.ID, Spec: vm.Spec, At: t0},
			PlaceVM{ID: vm.ID, Node: vm.Node, FromGeneration: vm.Generation, At: t0})
	}
	for _, m := range f.Migrations() {
		cmds = append(cmds,
			UpdateMigration{ID: m.ID, State: MigrationRunning, At: t0},
			CancelMigration{ID: m.ID, At: t0})
	}
	for _, fo := range f.Failovers() {
		cmds = append(cmds, UpdateFailover{ID: fo.ID, RunningAt: map[string]time.Time{"vm-1": t0}, Completed: true, At: t0})
	}
	for _, tok := range f.Tokens() {
		cmds = append(cmds, RevokeToken{ID: tok.ID})
	}
	for _, vm := range f.VMs() {
		cmds = append(cmds, DeleteVM{ID: vm.ID})
	}
	for _, n := range f.Nodes() {
		cmds = append(cmds, RemoveNode{ID: n.ID})
	}
	return cmds
}

// seedCommands is one or more of each command type, as they act on richFSM.
func seedCommands() []Command {
	spec := testSpec("web-9", 256, 1)
	return []Command{
		InitCluster{ClusterID: "c2", At: t0},
		RegisterNode{Node: testNode("n4", "node-4", 2048, 2), At: t0},
		SetNodeStatus{ID: "n1", Status: NodeSuspect, Cause: "gossip", At: t0},
		RemoveNode{ID: "n3"},
		CreateVM{ID: "vm-9", Spec: spec, At: t0},
		CreateVM{ID: "vm-8", Spec: testSpec("web-8", 256, 1), Node: "n2", At: t0},
		UpdateVM{ID: "vm-1", Spec: testSpec("kernel-vm", 256, 2), At: t0},
		DeleteVM{ID: "vm-2"},
		VMAction{ID: "vm-3", Action: ActionStop, At: t0},
		PlaceVM{ID: "vm-2", Node: "n2", FromGeneration: 0, At: t0},
		ReportVM{ID: "vm-3", Node: "n2", Generation: 2, State: VMRunning, At: t0},
		CreateToken{Token: testToken("tok-2", "ops", "ops-secret")},
		RevokeToken{ID: "tok-1"},
		BootstrapToken{Token: testToken("root-2", "root", "x")},
		ReportHost{ID: "n1", Foreign: []string{"stray-1"}},
		CreateMigration{ID: "mig-3", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Reason: "user", At: t0},
		UpdateMigration{ID: "mig-2", State: MigrationRunning, At: t0},
		CancelMigration{ID: "mig-2", At: t0},
		SetMaintenance{ID: "n2", Maintenance: true, Reason: "fuzz", At: t0},
		SetSettings{Settings: Settings{Strategy: StrategySpread}, At: t0},
		StartFailover{Failover: Failover{ID: "fo-2", Node: "n2", Cause: "fuzz", DetectedAt: t0}},
		UpdateFailover{ID: "fo-1", RunningAt: map[string]time.Time{"vm-3": t0}, Completed: true, At: t0},
	}
}

// seedEntries are the encoded seed commands, batches of them, and poison.
func seedEntries(t *testing.T) [][]byte {
	var out [][]byte
	cmds := seedCommands()
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, group := range [][]Command{cmds[4:9], cmds[15:18]} {
		b, err := NewBatch(group...)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := Encode(b)
		out = append(out, enc)
	}
	poison, _ := Encode(poisonedBatch())
	out = append(out, poison, nil, []byte{byte(CmdBatch)}, []byte(`~{}`), append([]byte{byte(CmdCreateVM)}, `{"spec":{"name":"a","vcpus":-1}}`...))
	// Gossip keyring operations on the base's keyring (added last, so the
	// earlier seeds keep their numbers).
	for _, c := range []Command{
		GossipKeyring{Op: KeyringInstall, Key: testKey(5), At: t0},
		GossipKeyring{Op: KeyringUse, Key: testKey(2), At: t0},
		GossipKeyring{Op: KeyringRemove, Key: testKey(1), At: t0},
	} {
		b, _ := Encode(c)
		out = append(out, b)
	}
	return out
}

// seedSnapshots are snapshot streams, whole and damaged.
func seedSnapshots(t *testing.T) [][]byte {
	rich := snapshotBytes(t, richFSM(t).FSM)
	empty := snapshotBytes(t, New())
	lines := bytes.SplitAfter(rich, []byte("\n"))
	return [][]byte{
		rich, empty, rich[:len(rich)/2],
		bytes.Join(append(lines[:1:1], []byte(`{"vm":{"id":"v"}}`+"\n"), []byte(`{"failover":{"id":"f"}}`+"\n"), []byte(`{"migration":{"id":"m","vm_id":"v"}}`+"\n")), nil),
		[]byte(`{"version":1}` + "\n" + `{"vm":null,"node":{}}` + "\n"),
		[]byte(`{"version":2}`), []byte("\n\n"), nil,
	}
}

// TestFuzzSeeds_Write writes the committed seed corpora.
func TestFuzzSeeds_Write(t *testing.T) {
	if os.Getenv("NOVACRON_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set NOVACRON_WRITE_FUZZ_SEEDS=1 to write testdata/fuzz")
	}
	entries := seedEntries(t)
	for target, seeds := range map[string][][]byte{"FuzzDecode": entries, "FuzzApply": entries, "FuzzRestore": seedSnapshots(t)} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
