package fsm

import (
	"errors"
	"testing"
	"time"
)

func TestRegisterNode_NewAndUpdate(t *testing.T) {
	f := newTestFSM(t)
	n := testNode("n1", "node-1", 4096, 4)
	n.Status = ""
	f.must(RegisterNode{Node: n, At: t0})
	got := f.node("n1")
	if got.Status != NodeAlive || !got.JoinedAt.Equal(t0) || !got.StatusSince.Equal(t0) {
		t.Fatalf("new node %+v: want alive, joined and status since t0", got)
	}
	if got.Labels["rack"] != "r1" || got.Capacity.MemoryMiB != 4096 {
		t.Fatalf("new node %+v", got)
	}
	// Metadata changes keep JoinedAt and, with the same status, StatusSince.
	t1 := t0.Add(time.Hour)
	n.Capacity.MemoryMiB = 8192
	n.Status = NodeAlive
	f.must(RegisterNode{Node: n, At: t1})
	got = f.node("n1")
	if got.Capacity.MemoryMiB != 8192 || !got.JoinedAt.Equal(t0) || !got.StatusSince.Equal(t0) {
		t.Fatalf("updated node %+v", got)
	}
	// A status change through registration moves StatusSince.
	n.Status = NodeSuspect
	f.must(RegisterNode{Node: n, At: t1})
	if got = f.node("n1"); got.Status != NodeSuspect || !got.StatusSince.Equal(t1) || !got.JoinedAt.Equal(t0) {
		t.Fatalf("re-registered node %+v", got)
	}
	if byName, err := f.NodeByName("node-1"); err != nil || byName.ID != "n1" {
		t.Fatalf("NodeByName: %+v %v", byName, err)
	}
}

func TestRegisterNode_KeepsMaintenance(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.must(SetMaintenance{ID: "n1", Maintenance: true, Reason: "operator", At: t0.Add(time.Minute)})
	f.must(RegisterNode{Node: testNode("n1", "node-1", 4096, 8), At: t0.Add(time.Hour)})
	got := f.node("n1")
	if !got.Maintenance || got.MaintenanceReason != "operator" || got.Capacity.VCPUs != 8 {
		t.Fatalf("node %+v: gossip metadata must not end maintenance", got)
	}
}

func TestRegisterNode_Refusals(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.refuse(RegisterNode{Node: testNode("", "node-x", 1, 1), At: t0}, ErrInvalid)
	f.refuse(RegisterNode{Node: testNode("n2", "bad name!", 1, 1), At: t0}, ErrInvalid)
	f.refuse(RegisterNode{Node: testNode("n2", "node-1", 1, 1), At: t0}, ErrConflict)
	if len(f.Nodes()) != 1 {
		t.Fatalf("refused nodes were added: %+v", f.Nodes())
	}
	// A node that left gives its name up.
	f.must(SetNodeStatus{ID: "n1", Status: NodeLeft, Cause: "left", At: t0})
	f.must(RegisterNode{Node: testNode("n2", "node-1", 1024, 1), At: t0})
	if byName, err := f.NodeByName("node-1"); err != nil || byName.ID != "n2" {
		t.Fatalf("NodeByName after reuse: %+v %v", byName, err)
	}
	// ... but cannot take it back while the new owner is there.
	f.refuse(RegisterNode{Node: testNode("n1", "node-1", 4096, 4), At: t0}, ErrConflict)
}

func TestRegisterNode_CopiesLabels(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	n := f.node("n1")
	n.Labels["rack"] = "changed"
	if f.node("n1").Labels["rack"] != "r1" {
		t.Fatal("Node returned the FSM's own labels map")
	}
}

func TestSetNodeStatus(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	t1 := t0.Add(time.Minute)
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, Cause: "gossip: member failed", At: t1})
	got := f.node("n1")
	if got.Status != NodeFailed || got.StatusCause != "gossip: member failed" || !got.StatusSince.Equal(t1) {
		t.Fatalf("node %+v", got)
	}
	// Same status again: the cause is updated, the time it began is not.
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, Cause: "still failed", At: t1.Add(time.Minute)})
	if got = f.node("n1"); got.StatusCause != "still failed" || !got.StatusSince.Equal(t1) {
		t.Fatalf("node %+v", got)
	}
	f.refuse(SetNodeStatus{ID: "nope", Status: NodeAlive, At: t0}, ErrNotFound)
	f.refuse(SetNodeStatus{ID: "n1", Status: "sleepy", At: t0}, ErrInvalid)
	if f.node("n1").Status != NodeFailed {
		t.Fatal("refused status change was applied")
	}
}

func TestRemoveNode(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(RemoveNode{ID: "n1"})
	if _, err := f.Node("n1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed node: %v", err)
	}
	if len(f.Nodes()) != 1 {
		t.Fatalf("nodes %+v", f.Nodes())
	}
	f.refuse(RemoveNode{ID: "n1"}, ErrNotFound)
	// The name is free again.
	f.addNode("n3", "node-1", 4096, 4)
}

func TestNodes_SortedByName(t *testing.T) {
	f := newTestFSM(t)
	for _, n := range []string{"c", "a", "b"} {
		f.addNode("id-"+n, n, 1024, 1)
	}
	ns := f.Nodes()
	if ns[0].Name != "a" || ns[1].Name != "b" || ns[2].Name != "c" {
		t.Fatalf("nodes %+v", ns)
	}
}

func TestNodes_OrderDeterministicWithReusedName(t *testing.T) {
	for i := 0; i < 50; i++ {
		f := newTestFSM(t)
		f.addNode("n-a", "node-1", 1024, 1)
		f.must(SetNodeStatus{ID: "n-a", Status: NodeLeft, At: t0})
		f.addNode("n-b", "node-1", 1024, 1)
		if ns := f.Nodes(); ns[0].ID != "n-a" {
			t.Fatalf("run %d: order %s, %s changes from call to call", i, ns[0].ID, ns[1].ID)
		}
	}
}

func TestSetNodeStatus_ReturnFromLeftKeepsNamesUnique(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n-a", "node-1", 1024, 1)
	f.must(SetNodeStatus{ID: "n-a", Status: NodeLeft, At: t0})
	f.addNode("n-b", "node-1", 1024, 1)
	f.refuse(SetNodeStatus{ID: "n-a", Status: NodeAlive, At: t0}, ErrConflict)
}

func TestReportHost_ForeignDomainsSurviveGossipUpdates(t *testing.T) {
	f := newTestFSM(t)
	n := testNode("n1", "node-1", 4096, 4)
	f.must(RegisterNode{Node: n, At: t0})
	f.must(ReportHost{ID: "n1", Foreign: []string{"zeta", "alpha"}})
	if got := f.node("n1").Foreign; len(got) != 2 || got[0] != "alpha" || got[1] != "zeta" {
		t.Fatalf("foreign %v, want sorted [alpha zeta]", got)
	}
	// A metadata change from gossip keeps what the host reported.
	n.Version = "2"
	f.must(RegisterNode{Node: n, At: t0})
	if got := f.node("n1").Foreign; len(got) != 2 {
		t.Fatalf("gossip update lost the foreign domains: %v", got)
	}
	f.refuse(ReportHost{ID: "nope"}, ErrNotFound)
	f.refuse(ReportHost{ID: "n1", Foreign: make([]string, MaxForeign+1)}, ErrInvalid)
}

func TestNodeStatus_HistoryKeepsEachChangeWithItsCause(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.must(SetNodeStatus{ID: "n1", Status: NodeSuspect, Cause: "heartbeat: no lease renewal for 3.1s", At: t0.Add(time.Second)})
	f.must(SetNodeStatus{ID: "n1", Status: NodeSuspect, Cause: "heartbeat: no lease renewal for 5.0s", At: t0.Add(2 * time.Second)})
	f.must(SetNodeStatus{ID: "n1", Status: NodeFailed, Cause: "heartbeat: no lease renewal for 11.0s", At: t0.Add(3 * time.Second)})
	f.must(RegisterNode{Node: testNode("n1", "node-1", 4096, 4), At: t0.Add(4 * time.Second)}) // back, alive
	h := f.node("n1").History
	want := []NodeStatus{NodeAlive, NodeSuspect, NodeFailed, NodeAlive}
	if len(h) != len(want) {
		t.Fatalf("history %+v, want %v", h, want)
	}
	for i, s := range want {
		if h[i].Status != s {
			t.Fatalf("history[%d] = %+v, want %s", i, h[i], s)
		}
	}
	if h[2].Cause != "heartbeat: no lease renewal for 11.0s" || !h[2].At.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("failed entry %+v", h[2])
	}
	for i := 0; i < 2*MaxStatusHistory; i++ {
		s := NodeSuspect
		if i%2 == 1 {
			s = NodeAlive
		}
		f.must(SetNodeStatus{ID: "n1", Status: s, Cause: "flap", At: t0})
	}
	if got := len(f.node("n1").History); got != MaxStatusHistory {
		t.Fatalf("history holds %d changes, want the last %d", got, MaxStatusHistory)
	}
}
