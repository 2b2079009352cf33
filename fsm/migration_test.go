package fsm

import (
	"errors"
	"testing"
)

// migrationFixture: vm-1 (1024 MiB, 2 vCPUs) runs on n1; n2 and n3 have room.
func migrationFixture(t *testing.T) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.addNode("n3", "node-3", 512, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 1024, 2), Node: "n1", At: t0})
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t0})
	return f
}

func TestMigration_CompletedMovesTheVM(t *testing.T) {
	f := migrationFixture(t)
	f.must(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Reason: "user", At: t0})
	if got := f.Reserved("n2"); got.MemoryMiB != 1024 || got.VCPUs != 2 {
		t.Fatalf("target reserves %+v while the migration is under way, want the vm's size", got)
	}
	if f.vm("vm-1").Migration != "m1" {
		t.Fatalf("vm does not name its migration: %+v", f.vm("vm-1"))
	}
	f.refuse(UpdateMigration{ID: "m1", State: MigrationRunning, At: t0}, ErrState) // not admitted
	f.must(UpdateMigration{ID: "m1", State: MigrationPreparing, At: t0})
	f.refuse(UpdateMigration{ID: "m1", State: MigrationRunning, At: t0}, ErrState) // destination not ready
	f.must(UpdateMigration{ID: "m1", State: MigrationPreparing, TargetReady: true, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationRunning, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationRunning, Progress: &MigrationProgress{Percent: 40, DataRemaining: 60}, At: t0})
	// The vm cannot be changed while it moves.
	f.refuse(VMAction{ID: "vm-1", Action: ActionStop, At: t0}, ErrConflict)
	f.refuse(DeleteVM{ID: "vm-1"}, ErrConflict)
	f.refuse(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 1, At: t0}, ErrConflict)
	f.refuse(CreateMigration{ID: "m2", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0}, ErrConflict)
	f.must(UpdateMigration{ID: "m1", State: MigrationCompleted, Result: &MigrationResult{TotalMs: 900, DowntimeMs: 80}, At: t0})

	vm := f.vm("vm-1")
	if vm.Node != "n2" || vm.Generation != 2 || vm.Migration != "" || vm.MovedAt.IsZero() {
		t.Fatalf("after completion vm = %+v, want on n2 at generation 2", vm)
	}
	if a := f.Allocated("n1"); a != (Capacity{}) {
		t.Fatalf("source still holds %+v", a)
	}
	if got := f.Reserved("n2"); got.MemoryMiB != 1024 {
		t.Fatalf("target reserves %+v, want exactly the vm once", got)
	}
	m, _ := f.Migration("m1")
	if m.State != MigrationCompleted || m.Result.DowntimeMs != 80 || m.FinishedAt.IsZero() || len(f.ActiveMigrations()) != 0 {
		t.Fatalf("record %+v", m)
	}
	f.refuse(UpdateMigration{ID: "m1", State: MigrationFailed, At: t0}, ErrState) // final stays final
	if got := f.MigrationsEnded(); got[MigrationCompleted] != 1 || got[MigrationFailed] != 0 {
		t.Fatalf("migrations ended %v, want one completed", got)
	}
	// The old source's report is stale now.
	f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMStopped, At: t0}, ErrStaleGeneration)
}

func TestMigration_FailedLeavesTheVMOnTheSource(t *testing.T) {
	f := migrationFixture(t)
	f.must(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateWarm, Target: "n2", At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationPreparing, TargetReady: true, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationRunning, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationFailed, Error: "destination libvirtd died", At: t0})
	vm := f.vm("vm-1")
	if vm.Node != "n1" || vm.Generation != 1 || vm.Migration != "" {
		t.Fatalf("vm %+v, want untouched on n1", vm)
	}
	if got := f.Reserved("n2"); got != (Capacity{}) {
		t.Fatalf("failed migration still reserves %+v on the target", got)
	}
	m, _ := f.Migration("m1")
	if m.Error != "destination libvirtd died" {
		t.Fatalf("record %+v", m)
	}
	if got := f.MigrationsEnded(); got[MigrationFailed] != 1 || got[MigrationCompleted] != 0 {
		t.Fatalf("migrations ended %v, want one failed", got)
	}
}

func TestMigration_CancelBeforeCopyEndsAtOnce(t *testing.T) {
	f := migrationFixture(t)
	f.must(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0})
	f.must(CancelMigration{ID: "m1", At: t0})
	if m, _ := f.Migration("m1"); m.State != MigrationCancelled || f.vm("vm-1").Migration != "" {
		t.Fatalf("pending migration not cancelled: %+v", m)
	}
	f.refuse(CancelMigration{ID: "m1", At: t0}, ErrState)
	// A running one only gets the request; its source ends it.
	f.must(CreateMigration{ID: "m2", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0})
	f.must(UpdateMigration{ID: "m2", State: MigrationPreparing, TargetReady: true, At: t0})
	f.must(UpdateMigration{ID: "m2", State: MigrationRunning, At: t0})
	f.must(CancelMigration{ID: "m2", At: t0})
	if m, _ := f.Migration("m2"); m.State != MigrationRunning || !m.CancelRequested {
		t.Fatalf("running migration %+v, want running with a cancel request", m)
	}
	if got := f.MigrationsEnded()[MigrationCancelled]; got != 1 {
		t.Fatalf("%d migrations ended cancelled, want 1: a running one's cancel only asks", got)
	}
	f.must(UpdateMigration{ID: "m2", State: MigrationCancelled, At: t0})
	if got := f.MigrationsEnded()[MigrationCancelled]; got != 2 {
		t.Fatalf("%d migrations ended cancelled, want 2", got)
	}
}

func TestMigration_ColdCompletesWithoutCopy(t *testing.T) {
	f := migrationFixture(t)
	f.must(VMAction{ID: "vm-1", Action: ActionStop, At: t0})
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMStopped, At: t0})
	f.refuse(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0}, ErrState)
	f.must(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateCold, Target: "n2", At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationPreparing, TargetReady: true, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationRunning, At: t0})
	f.must(UpdateMigration{ID: "m1", State: MigrationCompleted, At: t0})
	if vm := f.vm("vm-1"); vm.Node != "n2" || vm.State != VMScheduled || vm.DesiredState != VMStopped {
		t.Fatalf("cold-moved vm %+v", vm)
	}
}

func TestCreateMigration_Refusals(t *testing.T) {
	f := migrationFixture(t)
	f.addNode("n4", "node-4", 4096, 4)
	f.must(SetNodeStatus{ID: "n4", Status: NodeFailed, At: t0})
	f.addNode("n5", "node-5", 4096, 4)
	f.must(SetMaintenance{ID: "n5", Maintenance: true, At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("pending", 99999, 1), At: t0})
	cases := map[string]struct {
		cmd  CreateMigration
		kind error
	}{
		"same node":      {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n1"}, ErrInvalid},
		"full node":      {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n3"}, ErrState},
		"dead node":      {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n4"}, ErrState},
		"maintenance":    {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n5"}, ErrState},
		"unknown node":   {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "nope"}, ErrNotFound},
		"unknown vm":     {CreateMigration{ID: "x", VMID: "nope", Mode: MigrateLive, Target: "n2"}, ErrNotFound},
		"pending vm":     {CreateMigration{ID: "x", VMID: "vm-2", Mode: MigrateCold, Target: "n2"}, ErrState},
		"bad mode":       {CreateMigration{ID: "x", VMID: "vm-1", Mode: "teleport", Target: "n2"}, ErrInvalid},
		"bad option":     {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Options: MigrationOptions{Parallel: -1}}, ErrInvalid},
		"bad compressor": {CreateMigration{ID: "x", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Options: MigrationOptions{Compression: "zstd"}}, ErrInvalid},
		"no id":          {CreateMigration{VMID: "vm-1", Mode: MigrateLive, Target: "n2"}, ErrInvalid},
	}
	before := dump(f.FSM)
	for name, c := range cases {
		if err := f.apply(c.cmd); !errors.Is(err, c.kind) {
			t.Errorf("%s: got %v, want %v", name, err, c.kind)
		}
	}
	after := dump(f.FSM)
	before.Applied, after.Applied = 0, 0
	assertSameState(t, before, after)
}

func TestSettings_OvercommitChangesFit(t *testing.T) {
	f := migrationFixture(t)
	if err := f.Fits("n2", testSpec("big", 1024, 8)); !errors.Is(err, ErrState) {
		t.Fatalf("8 vCPUs fit on a 4-vCPU node without overcommit: %v", err)
	}
	f.must(SetSettings{Settings: Settings{CPUOvercommit: 2}, At: t0})
	if err := f.Fits("n2", testSpec("big", 1024, 8)); err != nil {
		t.Fatalf("8 vCPUs on a 4-vCPU node at 2x: %v", err)
	}
	f.refuse(SetSettings{Settings: Settings{CPUOvercommit: 0.5}}, ErrInvalid)
	f.refuse(SetSettings{Settings: Settings{Rebalance: RebalanceSettings{Mode: "sometimes"}}}, ErrInvalid)
	f.refuse(SetSettings{Settings: Settings{Strategy: "random"}}, ErrInvalid)
	if got := f.Settings(); got.CPUOvercommit != 2 || got.Rebalance.Mode != RebalanceRecommend {
		t.Fatalf("settings %+v", got)
	}
}

func TestSetMaintenance_Refusals(t *testing.T) {
	f := migrationFixture(t)
	f.refuse(SetMaintenance{ID: "n2", Maintenance: false}, ErrState)
	f.refuse(SetMaintenance{ID: "nope", Maintenance: true}, ErrNotFound)
	f.must(SetMaintenance{ID: "n2", Maintenance: true, Reason: "bios update", At: t0})
	f.refuse(SetMaintenance{ID: "n2", Maintenance: true}, ErrState)
	if err := f.Fits("n2", testSpec("x", 1, 1)); !errors.Is(err, ErrState) {
		t.Fatalf("a node in maintenance takes new vms: %v", err)
	}
}

func TestValidateSpec_Placement(t *testing.T) {
	bad := map[string]PlacementSpec{
		"strategy":        {Strategy: "random"},
		"selector key":    {NodeSelector: map[string]string{"bad key!": "x"}},
		"empty node":      {Nodes: []string{""}},
		"group kind":      {Groups: []GroupRule{{Group: "db", Kind: "near"}}},
		"group name":      {Groups: []GroupRule{{Group: "no spaces", Kind: GroupAffinity}}},
		"group twice":     {Groups: []GroupRule{{Group: "db", Kind: GroupAffinity}, {Group: "db", Kind: GroupAntiAffinity}}},
		"too many groups": {Groups: make([]GroupRule, MaxPlacementGroups+1)},
	}
	for name, p := range bad {
		spec := testSpec("vm", 128, 1)
		spec.Placement = &p
		if err := ValidateSpec(spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want invalid", name, err)
		}
	}
	good := testSpec("vm", 128, 1)
	good.Placement = &PlacementSpec{Strategy: StrategyBinpack, NodeSelector: map[string]string{"gpu": "true"}, Nodes: []string{"node-1"},
		Groups: []GroupRule{{Group: "db", Kind: GroupAntiAffinity, Hard: true}}}
	if err := ValidateSpec(good); err != nil {
		t.Fatalf("valid placement refused: %v", err)
	}
	// Apply refuses it too, whatever the API did.
	f := newTestFSM(t)
	bad1 := testSpec("vm", 128, 1)
	bad1.Placement = &PlacementSpec{Strategy: "random"}
	f.refuse(CreateVM{ID: "vm-1", Spec: bad1, At: t0}, ErrInvalid)
}
