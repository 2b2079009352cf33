package fsm

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// everyCommand holds one fully populated value of each command type.
func everyCommand() []Command {
	boot := &BootSource{Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd", Cmdline: "console=ttyS0"}
	spec := VMSpec{Name: "web-1", VCPUs: 2, MemoryMiB: 1024, DiskGiB: 20, Boot: boot, Labels: map[string]string{"app": "web"}}
	n := testNode("node-id-1", "node-1", 8192, 8)
	n.StatusCause = "gossip: member joined"
	n.StatusSince, n.JoinedAt = t0, t0
	tok := testToken("tok-1", "ci", "s3cret")
	tok.ExpiresAt = t0.AddDate(1, 0, 0)
	return []Command{
		RegisterNode{Node: n, At: t0},
		SetNodeStatus{ID: "node-id-1", Status: NodeSuspect, Cause: "gossip: suspect", At: t0},
		RemoveNode{ID: "node-id-1"},
		ReportHost{ID: "node-id-1", Foreign: []string{"legacy-db"}},
		CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Options: MigrationOptions{MaxDowntimeMs: 300, BandwidthMiBps: 100, AutoConverge: true, Parallel: 2, Compression: "zstd"},
			Reason: "rebalance", Rebalance: &RebalanceMove{ImbalanceBefore: 0.3, ImbalanceAfter: 0.1, SourceLoad: 0.9, TargetLoad: 0.2}, At: t0},
		UpdateMigration{ID: "m1", State: MigrationRunning, TargetReady: true, Progress: &MigrationProgress{Percent: 50, DataTotal: 100, DataProcessed: 50, DataRemaining: 50, DirtyRate: 7, Iteration: 2},
			Result: &MigrationResult{TotalMs: 900, DowntimeMs: 100, DataTransferred: 123, Iterations: 3}, Error: "x", At: t0},
		CancelMigration{ID: "m1", At: t0},
		SetMaintenance{ID: "n1", Maintenance: true, Reason: "kernel upgrade", At: t0},
		SetNodeLabels{ID: "n1", Set: map[string]string{"zone": "eu-1"}, Unset: []string{"rack"}},
		DomainRemoved{Node: "n1", VMIDs: []string{"vm-1", "vm-2"}},
		CreateProject{Project: Project{Name: "prod", Description: "production", Quota: Quota{VCPUs: ptr(int64(64)), VMs: ptr(int64(10))}, CreatedAt: t0, UpdatedAt: t0}},
		UpdateProject{Name: "prod", Description: "d", Quota: Quota{MemoryMiB: ptr(int64(4096)), DiskGiB: ptr(int64(0))}, At: t0},
		DeleteProject{Name: "prod"},
		CreateUser{User: User{Name: "alice", Role: "operator", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$a2V5", CreatedAt: t0, UpdatedAt: t0}},
		UpdateUser{Name: "alice", PasswordHash: "$argon2id$x", Role: "reader", Disabled: ptr(true), At: t0},
		DeleteUser{Name: "alice"},
		CreateSession{Session: Session{ID: "s1", Hash: "h1", User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}},
		RevokeSession{ID: "s1"},
		RefreshSession{ID: "s1", ExpiresAt: t0.Add(2 * time.Hour)},
		SetMember{Project: "prod", User: "alice", Role: "operator"},
		CreateRole{Role: Role{Name: "starter", Permissions: []string{"vm:read", "vm:write"}, CreatedAt: t0}},
		DeleteRole{Name: "starter"},
		TouchToken{ID: "t1", At: t0},
		CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared, Path: "/mnt/nfs", CreatedAt: t0}},
		DeletePool{Name: "nfs"},
		CreateImage{Image: Image{ID: "i1", Project: "prod", Name: "debian", Pool: "default", Source: "https://example.com/d.qcow2", State: ImageImporting, Importer: "n1", CreatedAt: t0, UpdatedAt: t0}},
		UpdateImage{ID: "i1", State: ImageReady, Format: "qcow2", SizeBytes: 1 << 20, VirtualSizeBytes: 1 << 30, SHA256: strings.Repeat("a", 64), Host: "n1", At: t0},
		DeleteImage{ID: "i1"},
		CancelImageImport{ID: "i1", At: t0},
		PutAlertRule{Rule: AlertRule{Name: "vm-cpu", Kind: AlertRuleMetric, Severity: SeverityWarning, Object: "vm", Metric: "cpu_percent", Op: ">", Threshold: 90, ForSeconds: 300, CreatedAt: t0, UpdatedAt: t0}, At: t0},
		DeleteAlertRule{Name: "vm-cpu"},
		UpdateAlerts{Upserts: []Alert{{ID: "vm-cpu:vm:vm1", Rule: "vm-cpu", Severity: SeverityWarning, ObjectType: "vm", ObjectID: "vm1", State: AlertFiring, Value: 97, PendingSince: t0, FiredAt: t0, UpdatedAt: t0}},
			Remove: []string{"old"}, Notified: []AlertNotice{{ID: "vm-cpu:vm:vm1", Target: "ops", State: AlertFiring}}, At: t0},
		AckAlert{ID: "vm-cpu:vm:vm1", By: "alice", At: t0},
		CreateSilence{Silence: Silence{ID: "s1", Rule: "vm-cpu", Comment: "maintenance", CreatedBy: "alice", StartsAt: t0, EndsAt: t0.Add(time.Hour)}, At: t0},
		DeleteSilence{ID: "s1"},
		PutAlertTarget{Target: AlertTarget{Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/x", Secret: "s3cret", Severities: []string{SeverityCritical}, CreatedAt: t0}},
		DeleteAlertTarget{Name: "ops"},
		CreateVolume{Volume: Volume{ID: "v1", Project: "prod", Name: "data", Pool: "default", Format: "qcow2", SizeGiB: 10, CreatedAt: t0, UpdatedAt: t0}},
		ResizeVolume{ID: "v1", SizeGiB: 20, At: t0},
		DeleteVolume{ID: "v1", At: t0},
		AttachVolume{ID: "v1", VM: "vm1", At: t0},
		DetachVolume{ID: "v1", VM: "vm1", At: t0},
		ReportVolume{ID: "v1", Node: "n1", FileGiB: 20, Attached: true, Detached: true, Deleted: true, Error: "boom", At: t0},
		CreateVMSnapshot{VM: "vm1", Name: "before-upgrade", Memory: true, At: t0},
		RevertVMSnapshot{VM: "vm1", Name: "before-upgrade", At: t0},
		DeleteVMSnapshot{VM: "vm1", Name: "before-upgrade", At: t0},
		ReportVMSnapshot{VM: "vm1", Name: "before-upgrade", Node: "n1", Error: "boom", At: t0},
		RecordAudit{Entries: []AuditEntry{{At: t0, Actor: "alice", Via: "session", Project: "prod", Action: "POST /api/v1/vms", Status: 201, Index: 7}}},
		SetSettings{Settings: DefaultSettings(), At: t0},
		StartFailover{Failover: Failover{ID: "f1", Node: "n1", NodeName: "node-1", Cause: "no lease renewal", LastRenewal: t0, DetectedAt: t0, FencedAt: t0, RestartedAt: t0,
			VMs: []FailoverVM{{VMID: "vm-1", VMName: "web", Node: "n2", NodeName: "node-2", Generation: 2}, {VMID: "vm-2", Reason: "no room"}}},
			FromGenerations: map[string]uint64{"vm-1": 1, "vm-2": 3}, Decisions: map[string]*Decision{"vm-2": {Strategy: StrategySpread, Reason: "no node fits", At: t0}}},
		UpdateFailover{ID: "f1", RunningAt: map[string]time.Time{"vm-1": t0}, Completed: true, At: t0},
		CreateVM{ID: "vm-1", Spec: spec, Node: "node-id-1", Reason: "most free memory", At: t0},
		UpdateVM{ID: "vm-1", Spec: spec, At: t0},
		DeleteVM{ID: "vm-1", At: t0},
		VMAction{ID: "vm-1", Action: ActionRestart, At: t0},
		PlaceVM{ID: "vm-1", Node: "node-id-2", FromGeneration: 3, Reason: "failover", At: t0},
		ReportVM{ID: "vm-1", Node: "node-id-2", Generation: 4, State: VMError, RestartSeq: 2, Error: "boom", At: t0},
		CreateToken{Token: tok},
		RevokeToken{ID: "tok-1"},
		InitCluster{ClusterID: "cluster-1", At: t0},
		BootstrapToken{Token: tok},
		PurgeRecords{MigrationIDs: []string{"m1"}, FailoverIDs: []string{"f1"}, TokenIDs: []string{"tok-1"}, At: t0},
		CreateJoinToken{Token: JoinToken{ID: "j1", Hash: HashSecret("s"), UsesLeft: 2, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}},
		UseJoinToken{ID: "j1", Hash: HashSecret("s"), Node: "n4", At: t0},
		RevokeJoinToken{ID: "j1"},
		SetClusterCA{CertPEM: "cert", KeyPEM: "key"},
		GossipKeyring{Op: KeyringInit, Key: testKey(1), Keys: []string{testKey(1), testKey(2)}, At: t0},
	}
}

func TestEncode_RoundTripEveryCommand(t *testing.T) {
	seen := map[CommandType]bool{}
	batch, err := NewBatch(everyCommand()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(everyCommand(), *batch) {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("encode %s: %v", c.Type(), err)
		}
		if b[0] != formatV2 || b[1] != byte(c.Type()) {
			t.Fatalf("%s: starts % x, want the format-2 mark then type %d", c.Type(), b[:2], c.Type())
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", c.Type(), err)
		}
		if got.Type() != c.Type() {
			t.Fatalf("decoded type %s, want %s", got.Type(), c.Type())
		}
		if v := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(v, c) {
			t.Fatalf("%s round trip\nwant %+v\ngot  %+v", c.Type(), c, v)
		}
		seen[c.Type()] = true
	}
	for typ, e := range commands {
		if !seen[typ] {
			t.Errorf("command %s (%d) has no round-trip case", e.name, typ)
		}
	}
}

func TestCommandType_Numbers(t *testing.T) {
	// The numbers are the log format: changing one breaks every existing log.
	want := map[CommandType]string{
		1: "RegisterNode", 2: "SetNodeStatus", 3: "RemoveNode", 4: "CreateVM", 5: "UpdateVM",
		6: "DeleteVM", 7: "VMAction", 8: "PlaceVM", 9: "ReportVM", 10: "CreateToken",
		11: "RevokeToken", 12: "InitCluster", 13: "BootstrapToken", 14: "Batch", 15: "ReportHost",
		16: "CreateMigration", 17: "UpdateMigration", 18: "CancelMigration", 19: "SetMaintenance", 20: "SetSettings",
		21: "StartFailover", 22: "UpdateFailover", 23: "PurgeRecords", 24: "GossipKeyring",
		25: "CreateJoinToken", 26: "UseJoinToken", 27: "RevokeJoinToken", 28: "SetClusterCA", 29: "SetNodeLabels",
		30: "DomainRemoved", 31: "CreateProject", 32: "UpdateProject", 33: "DeleteProject",
		34: "CreateUser", 35: "UpdateUser", 36: "DeleteUser", 37: "CreateSession", 38: "RevokeSession", 39: "RefreshSession",
		40: "SetMember", 41: "CreateRole", 42: "DeleteRole", 43: "TouchToken", 44: "RecordAudit",
		45: "CreatePool", 46: "DeletePool", 47: "CreateImage", 48: "UpdateImage", 49: "DeleteImage",
		50: "CreateVolume", 51: "ResizeVolume", 52: "DeleteVolume", 53: "AttachVolume", 54: "DetachVolume", 55: "ReportVolume",
		56: "CreateVMSnapshot", 57: "RevertVMSnapshot", 58: "DeleteVMSnapshot", 59: "ReportVMSnapshot", 60: "CancelImageImport",
		61: "PutAlertRule", 62: "DeleteAlertRule", 63: "UpdateAlerts", 64: "AckAlert", 65: "CreateSilence", 66: "DeleteSilence",
		67: "PutAlertTarget", 68: "DeleteAlertTarget",
	}
	for typ, n := range want {
		if typ.String() != n {
			t.Errorf("type %d is %q, want %q", typ, typ.String(), n)
		}
	}
	if len(commands) != len(want) {
		t.Errorf("%d registered commands, want %d", len(commands), len(want))
	}
	if s := CommandType(0x7f).String(); s != "unknown(127)" {
		t.Errorf("unknown type reads %q", s)
	}
}

func TestDecode_Errors(t *testing.T) {
	if _, err := Decode(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty: %v, want ErrMalformed", err)
	}
	if _, err := Decode(append([]byte{byte(CmdCreateVM)}, `{"id": 7`...)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad json: %v, want ErrMalformed", err)
	}
	if _, err := Decode(append([]byte{byte(CmdCreateVM)}, `{"id": 7}`...)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong field type: %v, want ErrMalformed", err)
	}
	var unknown *UnknownCommandError
	if _, err := Decode([]byte{0x7f, '{', '}'}); !errors.As(err, &unknown) || unknown.Ignorable() {
		t.Fatalf("0x7f: %v, want a non-ignorable UnknownCommandError", err)
	}
	if _, err := Decode([]byte{0x81, '{', '}'}); !errors.As(err, &unknown) || !unknown.Ignorable() {
		t.Fatalf("0x81: %v, want an ignorable UnknownCommandError", err)
	}
}

func TestApply_UnknownCommandPanics(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	before := dump(f.FSM)
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("Apply of unknown type 0x7f did not panic")
		}
		if !strings.Contains(r.(string), "index 9") {
			t.Fatalf("panic %q does not name the log index", r)
		}
		assertSameState(t, before, dump(f.FSM))
	}()
	f.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte{0x7f, '{', '}'}})
}

func TestApply_IgnorableUnknownCommandSkipped(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	before := dump(f.FSM)
	events, cancel := f.Subscribe(4)
	defer cancel()
	res, ok := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{0x80 | 0x7f, '{', '}'}}).(Result)
	if !ok {
		t.Fatal("Apply did not return a Result")
	}
	var unknown *UnknownCommandError
	if !errors.As(res.Err, &unknown) || unknown.Type != 0xff {
		t.Fatalf("result %v, want UnknownCommandError for 0xff", res.Err)
	}
	after := dump(f.FSM)
	if after.Applied != 2 {
		t.Fatalf("applied index %d, want 2: a skipped entry is still applied", after.Applied)
	}
	after.Applied = before.Applied
	assertSameState(t, before, after)
	select {
	case ev := <-events:
		t.Fatalf("skipped command published %+v", ev)
	default:
	}
}

func TestApply_MalformedPayload(t *testing.T) {
	f := newTestFSM(t)
	before := dump(f.FSM)
	res := f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: append([]byte{byte(CmdRegisterNode)}, "{not json"...)}).(Result)
	if !errors.Is(res.Err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", res.Err)
	}
	if ErrorCode(res.Err) != "malformed_command" {
		t.Fatalf("code %q", ErrorCode(res.Err))
	}
	after := dump(f.FSM)
	after.Applied = before.Applied
	assertSameState(t, before, after)
	if res := f.Apply(&raft.Log{Index: 2, Data: nil}).(Result); !errors.Is(res.Err, ErrMalformed) {
		t.Fatalf("empty entry: %v, want ErrMalformed", res.Err)
	}
}

func TestErrorFromCode_RoundTrip(t *testing.T) {
	for _, s := range sentinels {
		err := errorf(s, "detail about %s", s.code)
		back := ErrorFromCode(ErrorCode(err), err.Error())
		if !errors.Is(back, s) || back.Error() != err.Error() {
			t.Fatalf("%s: rebuilt %v", s.code, back)
		}
	}
	if err := ErrorFromCode("no_such_code", "x"); ErrorCode(err) != "" || err.Error() != "x" {
		t.Fatalf("unknown code gave %v", err)
	}
}

// Every entry written before log format 2 (the type byte, then JSON) still
// decodes to the same command, so an existing log replays; a format-1 batch
// too, entry by entry.
func TestDecode_Format1EntriesStillReplay(t *testing.T) {
	var entries []BatchEntry
	for _, c := range everyCommand() {
		body, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(append([]byte{byte(c.Type())}, body...))
		if err != nil {
			t.Fatalf("decode format-1 %s: %v", c.Type(), err)
		}
		if v := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(v, c) {
			t.Fatalf("format-1 %s\nwant %+v\ngot  %+v", c.Type(), c, v)
		}
		entries = append(entries, BatchEntry{Type: c.Type(), Body: body})
	}
	body, err := json.Marshal(Batch{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(append([]byte{byte(CmdBatch)}, body...))
	if err != nil {
		t.Fatalf("decode a format-1 batch: %v", err)
	}
	b := got.(*Batch)
	for i, c := range everyCommand() {
		cmd, err := b.Entries[i].decode()
		if err != nil {
			t.Fatalf("format-1 batch entry %d: %v", i, err)
		}
		if v := reflect.ValueOf(cmd).Elem().Interface(); !reflect.DeepEqual(v, c) {
			t.Fatalf("format-1 batch entry %s\nwant %+v\ngot  %+v", c.Type(), c, v)
		}
	}
	// Re-encoded (a leader proposing a batch a node of an earlier build
	// forwarded), it stays in format 1, bodies untouched.
	again, err := Encode(b)
	if err != nil || again[0] != byte(CmdBatch) {
		t.Fatalf("re-encoding a format-1 batch: % x %v", again[:min(len(again), 2)], err)
	}
}

// A format-2 batch whose framing lies (an entry count past the data, a
// length past the end, bytes after the last entry) is refused as malformed,
// never read out of bounds.
func TestDecode_Format2BatchFramingIsChecked(t *testing.T) {
	b, err := NewBatch(everyCommand()[:3]...)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("the good batch: %v", err)
	}
	for name, data := range map[string][]byte{
		"count past the data": append([]byte{formatV2, byte(CmdBatch), 0xff, 0x7f}, good[3:]...),
		"truncated":           good[:len(good)-3],
		"trailing bytes":      append(slices.Clone(good), 0x01),
		"no type":             {formatV2},
	} {
		if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// ptr returns a pointer to v, for the optional fields of test commands.
func ptr[T any](v T) *T { return &v }
