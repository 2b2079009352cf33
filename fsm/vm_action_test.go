package fsm

import (
	"reflect"
	"testing"
	"time"
)

// vmIn returns an FSM holding vm-1 placed on n1 with the given desired and
// observed states, reached through commands as a real cluster would.
func vmIn(t *testing.T, desired, observed VMState) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 8192, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	if observed != VMScheduled {
		f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: observed, At: t0})
	}
	switch desired {
	case VMStopped:
		f.must(VMAction{ID: "vm-1", Action: ActionStop, At: t0})
	case VMPaused:
		f.must(VMAction{ID: "vm-1", Action: ActionPause, At: t0})
	}
	vm := f.vm("vm-1")
	if vm.DesiredState != desired || vm.State != observed {
		t.Fatalf("setup: vm is %s/%s, want %s/%s", vm.DesiredState, vm.State, desired, observed)
	}
	return f
}

func TestVMAction_EveryActionAndState(t *testing.T) {
	// want is the desired state after the action, or "" when it is refused.
	cases := []struct {
		desired, observed VMState
		action            string
		want              VMState
		restart           bool
	}{
		{VMRunning, VMRunning, ActionStart, "", false},
		{VMRunning, VMScheduled, ActionStart, "", false},
		{VMRunning, VMError, ActionStart, VMRunning, false},
		{VMRunning, VMRunning, ActionStop, VMStopped, false},
		{VMRunning, VMRunning, ActionRestart, VMRunning, true},
		{VMRunning, VMRunning, ActionPause, VMPaused, false},
		{VMRunning, VMRunning, ActionResume, "", false},
		{VMStopped, VMStopped, ActionStart, VMRunning, false},
		{VMStopped, VMStopped, ActionStop, "", false},
		{VMStopped, VMStopped, ActionRestart, "", false},
		{VMStopped, VMStopped, ActionPause, "", false},
		{VMStopped, VMStopped, ActionResume, "", false},
		{VMPaused, VMPaused, ActionStart, "", false},
		{VMPaused, VMPaused, ActionStop, VMStopped, false},
		{VMPaused, VMPaused, ActionRestart, "", false},
		{VMPaused, VMPaused, ActionPause, "", false},
		{VMPaused, VMPaused, ActionResume, VMRunning, false},
	}
	t1 := t0.Add(time.Hour)
	for _, c := range cases {
		f := vmIn(t, c.desired, c.observed)
		before := f.vm("vm-1")
		checked := CheckAction(&before, c.action)
		err := f.apply(VMAction{ID: "vm-1", Action: c.action, At: t1})
		if (checked == nil) != (err == nil) {
			t.Fatalf("%s on %s/%s: CheckAction says %v, Apply says %v", c.action, c.desired, c.observed, checked, err)
		}
		after := f.vm("vm-1")
		if c.want == "" {
			if ErrorCode(err) != "invalid_state" {
				t.Fatalf("%s on %s/%s: got %v, want ErrState", c.action, c.desired, c.observed, err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Fatalf("%s on %s/%s: refused action changed the vm\nbefore %+v\nafter  %+v", c.action, c.desired, c.observed, before, after)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s on %s/%s: %v", c.action, c.desired, c.observed, err)
		}
		if after.DesiredState != c.want || !after.UpdatedAt.Equal(t1) || after.Index != f.index {
			t.Fatalf("%s on %s/%s: vm %+v, want desired %s", c.action, c.desired, c.observed, after, c.want)
		}
		if wantSeq := before.RestartSeq + map[bool]uint64{true: 1}[c.restart]; after.RestartSeq != wantSeq {
			t.Fatalf("%s: restart seq %d, want %d", c.action, after.RestartSeq, wantSeq)
		}
		if after.State != before.State || after.Generation != before.Generation {
			t.Fatalf("%s: an action changed observed state or placement: %+v", c.action, after)
		}
	}
}

func TestVMAction_UnknownActionAndVM(t *testing.T) {
	f := vmIn(t, VMRunning, VMRunning)
	f.refuse(VMAction{ID: "vm-1", Action: "explode", At: t0}, ErrInvalid)
	f.refuse(VMAction{ID: "nope", Action: ActionStop, At: t0}, ErrNotFound)
}

func TestPlaceVM_AssignsAndMovesAllocation(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), At: t0})
	t1 := t0.Add(time.Minute)
	f.must(PlaceVM{ID: "vm-1", Node: "n1", FromGeneration: 0, Reason: "first", At: t1})
	vm := f.vm("vm-1")
	if vm.Node != "n1" || vm.Generation != 1 || vm.State != VMScheduled || vm.Placement != "first" || !vm.UpdatedAt.Equal(t1) {
		t.Fatalf("vm %+v", vm)
	}
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMError, Error: "no disk", At: t1})
	f.must(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 1, Reason: "failover", At: t1})
	vm = f.vm("vm-1")
	if vm.Node != "n2" || vm.Generation != 2 || vm.State != VMScheduled || vm.Error != "" || vm.Placement != "failover" {
		t.Fatalf("moved vm %+v", vm)
	}
	if a := f.Allocated("n1"); a != (Capacity{}) {
		t.Fatalf("old node still holds %+v", a)
	}
	if a := f.Allocated("n2"); a != (Capacity{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}) {
		t.Fatalf("new node holds %+v", a)
	}
}

func TestPlaceVM_Refusals(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.addNode("small", "small", 512, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	before := dump(f.FSM)
	// A leader that read generation 0 lost the race to the one that placed it.
	f.refuse(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 0, At: t0}, ErrStaleGeneration)
	f.refuse(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 2, At: t0}, ErrStaleGeneration)
	f.refuse(PlaceVM{ID: "vm-1", Node: "nope", FromGeneration: 1, At: t0}, ErrNotFound)
	f.refuse(PlaceVM{ID: "vm-1", Node: "small", FromGeneration: 1, At: t0}, ErrState)
	f.refuse(PlaceVM{ID: "nope", Node: "n2", FromGeneration: 0, At: t0}, ErrNotFound)
	for _, s := range []NodeStatus{NodeFailed, NodeSuspect, NodeLeft} {
		f.must(SetNodeStatus{ID: "n2", Status: s, At: t0})
		f.refuse(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 1, At: t0}, ErrState)
	}
	f.must(SetNodeStatus{ID: "n2", Status: NodeAlive, At: t0})
	f.must(SetMaintenance{ID: "n2", Maintenance: true, At: t0})
	f.refuse(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 1, At: t0}, ErrState)
	f.must(SetMaintenance{ID: "n2", Maintenance: false, At: t0})
	f.must(SetNodeStatus{ID: "n2", Status: NodeAlive, At: t0})
	after := dump(f.FSM)
	before.Applied, after.Applied = 0, 0
	before.Nodes, after.Nodes = nil, nil
	assertSameState(t, before, after)
}

func TestPlaceVM_SameNodeWhenFull(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1024, 2)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMError, Error: "crashed", At: t0})
	// Restarting the VM where it is must not need room for a second copy.
	f.must(PlaceVM{ID: "vm-1", Node: "n1", FromGeneration: 1, Reason: "restart in place", At: t0})
	if vm := f.vm("vm-1"); vm.Generation != 2 {
		t.Fatalf("vm %+v", vm)
	}
	if a := f.Allocated("n1"); a.MemoryMiB != 1024 {
		t.Fatalf("allocated %+v", a)
	}
}

func TestReportVM(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	t1 := t0.Add(time.Minute)
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t1})
	vm := f.vm("vm-1")
	if vm.State != VMRunning || !vm.ReportedAt.Equal(t1) || vm.Index != f.index || !vm.UpdatedAt.Equal(t0) {
		t.Fatalf("vm %+v", vm)
	}
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMError, Error: "qemu died", At: t1})
	if vm = f.vm("vm-1"); vm.State != VMError || vm.Error != "qemu died" {
		t.Fatalf("vm %+v", vm)
	}
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t1})
	if vm = f.vm("vm-1"); vm.Error != "" {
		t.Fatalf("error not cleared: %+v", vm)
	}
	before := f.vm("vm-1")
	f.refuse(ReportVM{ID: "vm-1", Node: "n2", Generation: 1, State: VMStopped, At: t1}, ErrStaleGeneration)
	f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 0, State: VMStopped, At: t1}, ErrStaleGeneration)
	f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 2, State: VMStopped, At: t1}, ErrStaleGeneration)
	for _, s := range []VMState{VMPending, VMScheduled, "weird"} {
		f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: s, At: t1}, ErrInvalid)
	}
	f.refuse(ReportVM{ID: "nope", Node: "n1", Generation: 1, State: VMRunning, At: t1}, ErrNotFound)
	if after := f.vm("vm-1"); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused reports changed the vm\nbefore %+v\nafter  %+v", before, after)
	}
	// After a move, the old host's reports are stale.
	f.must(PlaceVM{ID: "vm-1", Node: "n2", FromGeneration: 1, At: t1})
	f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t1}, ErrStaleGeneration)
	f.must(ReportVM{ID: "vm-1", Node: "n2", Generation: 2, State: VMRunning, At: t1})
}

func TestReportVM_RestartSeq(t *testing.T) {
	f := vmIn(t, VMRunning, VMRunning)
	report := func(seq uint64) uint64 {
		t.Helper()
		f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, RestartSeq: seq, At: t0})
		return f.vm("vm-1").ReportedRestartSeq
	}
	f.must(VMAction{ID: "vm-1", Action: ActionRestart, At: t0})
	f.must(VMAction{ID: "vm-1", Action: ActionRestart, At: t0})
	if vm := f.vm("vm-1"); vm.RestartSeq != 2 || vm.ReportedRestartSeq != 0 {
		t.Fatalf("vm %+v", vm)
	}
	if got := report(1); got != 1 {
		t.Fatalf("reported seq %d after reporting 1, want 1", got)
	}
	// A host cannot claim a restart nobody asked for.
	if got := report(3); got != 1 {
		t.Fatalf("reported seq %d after reporting 3 of 2, want 1", got)
	}
	if got := report(2); got != 2 {
		t.Fatalf("reported seq %d, want 2", got)
	}
	// A late report of an older restart does not go back.
	if got := report(1); got != 2 {
		t.Fatalf("reported seq went back to %d", got)
	}
	if got := report(0); got != 2 {
		t.Fatalf("reported seq went back to %d", got)
	}
}

func TestReportVM_UnplacedVMRefused(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), At: t0})
	if err := f.apply(ReportVM{ID: "vm-1", Node: "", Generation: 0, State: VMRunning, At: t0}); err == nil {
		t.Fatal("report from no node accepted for an unplaced vm")
	}
	if vm := f.vm("vm-1"); vm.State != VMPending {
		t.Fatalf("unplaced vm reads %s", vm.State)
	}
}
