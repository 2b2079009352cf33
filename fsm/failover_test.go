package fsm

import (
	"testing"
	"time"
)

func TestFailover_MovesHAVMsAndQueuesThoseThatDoNotFit(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 8)
	f.addNode("n2", "node-2", 1024, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("small", 512, 1), Node: "n1", At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("big", 2048, 1), Node: "n1", At: t0})
	noHA := testSpec("pet", 256, 1)
	noHA.HA = &HASpec{Disabled: true}
	f.must(CreateVM{ID: "vm-3", Spec: noHA, Node: "n1", At: t0})
	start := StartFailover{Failover: Failover{ID: "f1", Node: "n1", Cause: "no lease renewal", DetectedAt: t0, FencedAt: t0, RestartedAt: t0,
		VMs:        []FailoverVM{{VMID: "vm-1", Node: "n2"}, {VMID: "vm-2", Reason: "no node fits"}},
		LeftBehind: []FailoverVM{{VMID: "vm-3", Reason: "HA is off for it"}, {VMID: "vm-gone", Reason: "deleted meanwhile"}}},
		FromGenerations: map[string]uint64{"vm-1": 1, "vm-2": 1}}
	f.refuse(start, ErrState) // n1 is still alive
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, Cause: "gossip", At: t0})
	f.must(start)
	if vm := f.vm("vm-1"); vm.Node != "n2" || vm.Generation != 2 || vm.State != VMScheduled {
		t.Fatalf("moved vm %+v", vm)
	}
	if vm := f.vm("vm-2"); vm.Node != "" || vm.Generation != 2 || vm.State != VMPending {
		t.Fatalf("vm that fits nowhere %+v, want pending at the next generation", vm)
	}
	if vm := f.vm("vm-3"); vm.Node != "n1" || vm.Generation != 1 {
		t.Fatalf("non-HA vm moved: %+v", vm)
	}
	// The dead host's stale reports are refused.
	f.refuse(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t0}, ErrStaleGeneration)
	if a := f.Allocated("n1"); a.MemoryMiB != 256 {
		t.Fatalf("n1 still holds %+v, want only the non-HA vm", a)
	}
	// Replaying it is refused: the VMs are no longer there.
	f.refuse(StartFailover{Failover: Failover{ID: "f2", Node: "n1", VMs: []FailoverVM{{VMID: "vm-1", Node: "n2"}}}, FromGenerations: map[string]uint64{"vm-1": 1}}, ErrStaleGeneration)
	at := t0.Add(5 * time.Second)
	f.must(UpdateFailover{ID: "f1", RunningAt: map[string]time.Time{"vm-1": at}, Completed: true, At: at})
	fo, _ := f.Failover("f1")
	if fo.VMs[0].RunningAt != at || fo.CompletedAt != at || fo.VMs[0].NodeName != "node-2" || fo.VMs[1].Reason == "" {
		t.Fatalf("record %+v", fo)
	}
	// The VM it left behind is named with why; one deleted meanwhile is not.
	if len(fo.LeftBehind) != 1 || fo.LeftBehind[0].VMName != "pet" || fo.LeftBehind[0].Reason != "HA is off for it" {
		t.Fatalf("left behind %+v", fo.LeftBehind)
	}
	f.refuse(UpdateFailover{ID: "f1", Completed: true, At: at}, ErrState)
}

func TestFailover_AVMListedTwiceIsRefusedWhole(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 8)
	f.addNode("n2", "node-2", 4096, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("small", 512, 1), Node: "n1", At: t0})
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, Cause: "gossip", At: t0})
	f.refuse(StartFailover{Failover: Failover{ID: "f1", Node: "n1", VMs: []FailoverVM{{VMID: "vm-1", Node: "n2"}, {VMID: "vm-1"}}},
		FromGenerations: map[string]uint64{"vm-1": 1}}, ErrInvalid)
	if vm := f.vm("vm-1"); vm.Node != "n1" || vm.Generation != 1 {
		t.Fatalf("a refused failover moved the vm: %+v", vm)
	}
	if _, err := f.Failover("f1"); err == nil {
		t.Fatal("a refused failover left a record")
	}
}

func TestRemoveNode_RefusedWhileAMigrationUsesIt(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 8)
	f.addNode("n2", "node-2", 4096, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 512, 1), Node: "n1", At: t0})
	f.must(ReportVM{ID: "vm-1", Node: "n1", Generation: 1, State: VMRunning, At: t0})
	f.must(CreateMigration{ID: "m-1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", Reason: "user", At: t0})
	f.refuse(RemoveNode{ID: "n2"}, ErrState)
	f.refuse(RemoveNode{ID: "n1"}, ErrState)
	f.must(UpdateMigration{ID: "m-1", State: MigrationFailed, Error: "test", At: t0})
	f.must(RemoveNode{ID: "n2"})
}
