package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// completeMigration takes migration id to completed, as its hosts report it.
func (e *testEnv) completeMigration(id string) {
	e.t.Helper()
	now := time.Now().UTC()
	e.cluster.mustApply(e.t, fsm.UpdateMigration{ID: id, State: fsm.MigrationPreparing, TargetReady: true, At: now})
	e.cluster.mustApply(e.t, fsm.UpdateMigration{ID: id, State: fsm.MigrationRunning, At: now})
	e.cluster.mustApply(e.t, fsm.UpdateMigration{ID: id, State: fsm.MigrationCompleted, Result: &fsm.MigrationResult{}, At: now})
}

// A node in maintenance is a drain operation: running while VMs can still
// leave, its progress the share moved away since the drain began, failed
// once only VMs that cannot move are left (naming them), and a DELETE on
// it ends the maintenance as an undrain does.
func TestOperations_DrainFollowsTheNode(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("a-moving", e.nodes[0])
	e.runningVM("b-idle", e.nodes[0])
	pinned := validVM("c-pinned")
	pinned.Placement = &client.PlacementSpec{Nodes: []string{"node-1"}}
	e.placedVM(pinned, e.nodes[0], fsm.VMRunning)
	id := "drain:" + e.nodes[0].ID
	e.do("GET", "/api/v1/operations/"+id, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")

	var st client.DrainStatus
	e.do("POST", "/api/v1/nodes/node-1/drain", e.root, client.DrainRequest{Reason: "kernel upgrade"}).expect(t, http.StatusAccepted, &st)
	if st.Operation != id {
		t.Fatalf("drain answer names operation %q, want %q", st.Operation, id)
	}
	var again client.DrainStatus
	e.do("GET", "/api/v1/nodes/node-1/drain", e.root, nil).expect(t, http.StatusOK, &again)
	if again.Operation != id {
		t.Fatalf("drain status names operation %q, want %q", again.Operation, id)
	}
	var op client.Operation
	e.do("GET", "/api/v1/operations/"+id, e.root, nil).expect(t, http.StatusOK, &op)
	if op.ID != id || op.Kind != "drain" || op.Project != "" || op.Object != (client.OperationObject{Type: "node", ID: e.nodes[0].ID, Name: "node-1"}) ||
		op.State != client.OperationRunning || op.Progress != 0 || !op.MayCancel || !op.CreatedAt.Equal(*st.MaintenanceSince) ||
		op.Links["drain"] != "/api/v1/nodes/"+e.nodes[0].ID+"/drain" || op.Links["node"] != "/api/v1/nodes/"+e.nodes[0].ID {
		t.Fatalf("drain operation %+v", op)
	}
	// A VM that cannot move is named while the others may still leave.
	if !strings.Contains(op.Error, "1 of 3 VM(s) left cannot move") || !strings.Contains(op.Error, "c-pinned: ") || strings.Contains(op.Error, "b-idle") {
		t.Fatalf("running drain's error %q, want c-pinned named", op.Error)
	}
	// The node's name, or the start of its ID, finds it too.
	for _, ref := range []string{"drain:node-1", "drain:" + e.nodes[0].ID[:8]} {
		var other client.Operation
		e.do("GET", "/api/v1/operations/"+ref, e.root, nil).expect(t, http.StatusOK, &other)
		if other.ID != id {
			t.Fatalf("%s is %q", ref, other.ID)
		}
	}
	e.do("GET", "/api/v1/operations/drain:node-2", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")

	// Two VMs leave (one by the user's own migration, which counts as moved
	// away too); the one left cannot move: the drain failed, and says why.
	for _, name := range []string{"a-moving", "b-idle"} {
		var m client.Migration
		e.do("POST", "/api/v1/vms/"+name+"/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, &m)
		e.do("GET", "/api/v1/operations/"+id, e.root, nil).expect(t, http.StatusOK, &op)
		if op.State != client.OperationRunning {
			t.Fatalf("drain with %s migrating: %+v", name, op)
		}
		e.completeMigration(m.ID)
	}
	reader := e.tokenFor("reader")
	start := time.Now()
	e.do("GET", "/api/v1/operations/"+id+"?wait=30s", reader, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationFailed || int(op.Progress) != 66 || !strings.HasPrefix(op.Error, "1 of 1 VM(s) left cannot move (c-pinned: ") ||
		time.Since(start) > 10*time.Second || !op.UpdatedAt.After(op.CreatedAt) {
		t.Fatalf("stuck drain %+v after %s", op, time.Since(start))
	}
	var ops []client.Operation
	e.do("GET", "/api/v1/operations", e.root, nil).expect(t, http.StatusOK, &ops)
	if len(ops) != 3 || ops[0].ID != id && ops[1].ID != id && ops[2].ID != id {
		t.Fatalf("operations %+v, want the drain and the two migrations", ops)
	}

	// Cancelling it ends the maintenance; it is then gone.
	e.do("DELETE", "/api/v1/operations/"+id, reader, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "node:write")
	before := e.cluster.applies()
	e.do("DELETE", "/api/v1/operations/"+id, e.tokenFor("operator"), nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationCancelled || op.MayCancel || e.cluster.applies() != before+1 {
		t.Fatalf("cancelled drain %+v", op)
	}
	if n, _ := e.fsm.Node(e.nodes[0].ID); n.Maintenance {
		t.Fatal("node-1 is still in maintenance after its drain was cancelled")
	}
	e.do("GET", "/api/v1/operations/"+id, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
	e.do("DELETE", "/api/v1/operations/"+id, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
}

// A drain succeeds once its node holds no VM, and waits while its node is
// not alive (the leader moves nothing off it).
func TestOperations_DrainSucceedsWhenEmpty(t *testing.T) {
	e := newTestEnv(t)
	var st client.DrainStatus
	e.do("POST", "/api/v1/nodes/node-2/drain", e.root, nil).expect(t, http.StatusAccepted, &st)
	var op client.Operation
	e.do("GET", "/api/v1/operations/"+st.Operation, e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationSucceeded || op.Progress != 100 || op.Error != "" || !op.MayCancel {
		t.Fatalf("drain of an empty node %+v", op)
	}
	// Ending the maintenance of a drained node: the drain stays succeeded.
	e.do("DELETE", "/api/v1/operations/"+st.Operation, e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationSucceeded || op.MayCancel {
		t.Fatalf("undrained empty node's drain %+v", op)
	}

	vm := e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/nodes/node-1/drain", e.root, nil).expect(t, http.StatusAccepted, &st)
	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: e.nodes[0].ID, Status: fsm.NodeSuspect, Cause: "test", At: time.Now().UTC()})
	e.do("GET", "/api/v1/operations/"+st.Operation, e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationPending || !strings.Contains(op.Error, "node-1 is suspect") {
		t.Fatalf("drain of a suspect node %+v", op)
	}
	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: e.nodes[0].ID, Status: fsm.NodeAlive, Cause: "test", At: time.Now().UTC()})
	var m client.Migration
	e.do("POST", "/api/v1/vms/web/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, &m)
	e.completeMigration(m.ID)
	e.do("GET", "/api/v1/operations/"+st.Operation+"?wait=30s", e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationSucceeded || op.Progress != 100 {
		t.Fatalf("drain after %s moved away: %+v", vm.Name, op)
	}
}
