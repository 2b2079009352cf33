package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

func TestDrain_MaintenanceStatusAndUndrain(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("b-moving", e.nodes[0])
	e.runningVM("a-idle", e.nodes[0])
	pinned := validVM("c-pinned")
	pinned.Placement = &client.PlacementSpec{Nodes: []string{"node-1"}}
	e.placedVM(pinned, e.nodes[0], fsm.VMRunning)
	var m client.Migration
	e.do("POST", "/api/v1/vms/b-moving/migrate", e.root, nil).expect(t, http.StatusAccepted, &m)
	e.cluster.mustApply(t, fsm.UpdateMigration{ID: m.ID, State: fsm.MigrationPreparing, TargetReady: true, At: time.Now().UTC()})
	e.cluster.mustApply(t, fsm.UpdateMigration{ID: m.ID, State: fsm.MigrationRunning, Progress: &fsm.MigrationProgress{Percent: 25}, At: time.Now().UTC()})

	before := e.cluster.applies()
	var st client.DrainStatus
	e.do("POST", "/api/v1/nodes/node-1/drain", e.root, client.DrainRequest{Reason: "kernel upgrade"}).expect(t, http.StatusAccepted, &st)
	if n := e.cluster.applies() - before; n != 1 {
		t.Fatalf("%d Apply calls for a drain, want 1", n)
	}
	if st.NodeID != e.nodes[0].ID || st.NodeName != "node-1" || !st.Maintenance || st.MaintenanceReason != "kernel upgrade" || st.MaintenanceSince == nil || st.Done {
		t.Fatalf("drain status = %+v", st)
	}
	if len(st.VMs) != 3 || st.VMs[0].Name != "a-idle" || st.VMs[1].Name != "b-moving" || st.VMs[2].Name != "c-pinned" {
		t.Fatalf("drain vms = %+v, want the three by name", st.VMs)
	}
	if st.VMs[0].Migration != nil || st.VMs[0].State != "running" {
		t.Fatalf("idle vm = %+v", st.VMs[0])
	}
	if mg := st.VMs[1].Migration; mg == nil || mg.ID != m.ID || mg.State != "running" || mg.Percent != 25 {
		t.Fatalf("migrating vm = %+v", st.VMs[1].Migration)
	}
	if len(st.Unmovable) != 1 || st.Unmovable[0].VMName != "c-pinned" || !strings.Contains(st.Unmovable[0].Reason, "not in the vm's node list") {
		t.Fatalf("unmovable = %+v, want c-pinned with the scheduler's reason", st.Unmovable)
	}

	var again client.DrainStatus
	e.do("GET", "/api/v1/nodes/"+e.nodes[0].ID+"/drain", e.root, nil).expect(t, http.StatusOK, &again)
	if len(again.VMs) != 3 || !again.Maintenance {
		t.Fatalf("GET drain = %+v", again)
	}
	var n client.Node
	e.do("GET", "/api/v1/nodes/node-1", e.root, nil).expect(t, http.StatusOK, &n)
	if !n.Maintenance || n.MaintenanceReason != "kernel upgrade" || n.MaintenanceSince == nil || n.Status != "alive" {
		t.Fatalf("drained node = %+v", n)
	}

	before = e.cluster.applies()
	e.do("POST", "/api/v1/nodes/node-1/drain", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", `node "node-1" is already in maintenance`)
	e.do("POST", "/api/v1/nodes/node-2/undrain", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", `node "node-2" is not in maintenance`)
	e.do("POST", "/api/v1/nodes/node-9/drain", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
	e.do("POST", "/api/v1/nodes/node-9/undrain", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
	e.do("GET", "/api/v1/nodes/node-9/drain", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
	e.do("POST", "/api/v1/nodes/node-2/drain", e.root, `{"reason":"`+strings.Repeat("x", 300)+`"}`).expectError(t, http.StatusBadRequest, "invalid", "reason must be at most 256 bytes")
	e.do("POST", "/api/v1/nodes/node-2/drain", e.root, `{"why":"x"}`).expectError(t, http.StatusBadRequest, "bad_json", `unknown field "why"`)
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d Apply calls from refused drains", n-before)
	}

	var back client.Node
	e.do("POST", "/api/v1/nodes/node-1/undrain", e.root, nil).expect(t, http.StatusOK, &back)
	if back.Maintenance || back.MaintenanceReason != "" || back.Name != "node-1" {
		t.Fatalf("undrained node = %+v", back)
	}
}

func TestDrain_DoneWhenTheNodeIsEmpty(t *testing.T) {
	e := newTestEnv(t)
	var st client.DrainStatus
	e.do("POST", "/api/v1/nodes/node-2/drain", e.root, nil).expect(t, http.StatusAccepted, &st)
	if !st.Done || len(st.VMs) != 0 || len(st.Unmovable) != 0 {
		t.Fatalf("drain of an empty node = %+v, want done", st)
	}
	// The JSON lists are [] rather than null.
	a := e.do("GET", "/api/v1/nodes/node-2/drain", e.root, nil).expect(t, http.StatusOK, nil)
	if !strings.Contains(string(a.body), `"vms":[]`) || !strings.Contains(string(a.body), `"unmovable":[]`) {
		t.Fatalf("drain status body = %s", a.body)
	}
	// A node not in maintenance is never done, even when empty.
	e.do("GET", "/api/v1/nodes/node-1/drain", e.root, nil).expect(t, http.StatusOK, &st)
	if st.Done || st.Maintenance {
		t.Fatalf("drain status of a node in service = %+v", st)
	}
}

func TestDrain_Roles(t *testing.T) {
	e := newTestEnv(t)
	reader, op := e.tokenFor("reader"), e.tokenFor("operator")
	e.do("GET", "/api/v1/nodes/node-1/drain", reader, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/nodes/node-1/failover-plan", reader, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/nodes/node-1/drain", reader, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks node:write")
	e.do("POST", "/api/v1/nodes/node-1/drain", op, nil).expect(t, http.StatusAccepted, nil)
	e.do("POST", "/api/v1/nodes/node-1/undrain", reader, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks node:write")
	e.do("POST", "/api/v1/nodes/node-1/undrain", op, nil).expect(t, http.StatusOK, nil)
}

func TestFailoverPlan_MovesAndMisfits(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("small", e.nodes[0])
	big := validVM("big")
	big.VCPUs, big.MemoryMiB = 4, 12288
	e.placedVM(big, e.nodes[0], fsm.VMRunning)
	other := validVM("other")
	other.VCPUs, other.MemoryMiB = 4, 8192
	e.placedVM(other, e.nodes[1], fsm.VMRunning)

	var plan client.FailoverPlan
	e.do("GET", "/api/v1/nodes/node-1/failover-plan", e.root, nil).expect(t, http.StatusOK, &plan)
	if plan.NodeID != e.nodes[0].ID || plan.NodeName != "node-1" {
		t.Fatalf("plan for %s (%s)", plan.NodeName, plan.NodeID)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].VMName != "small" || plan.Moves[0].NodeName != "node-2" || !plan.Moves[0].Decision.OK() {
		t.Fatalf("moves = %+v", plan.Moves)
	}
	if len(plan.NotFit) != 1 || plan.NotFit[0].VMName != "big" || plan.NotFit[0].Node != "" {
		t.Fatalf("not fit = %+v", plan.NotFit)
	}
	d := plan.NotFit[0].Decision
	if d.RejectedCounts["memory"] != 1 || !strings.Contains(d.Reason, "MiB free") {
		t.Fatalf("misfit decision = %+v", d)
	}
	var plan2 client.FailoverPlan
	a := e.do("GET", "/api/v1/nodes/node-2/failover-plan", e.root, nil).expect(t, http.StatusOK, &plan2)
	if len(plan2.NotFit) != 1 || plan2.NotFit[0].VMName != "other" || !strings.Contains(string(a.body), `"moves":[]`) {
		t.Fatalf("plan for node-2 = %s", a.body)
	}
	e.do("GET", "/api/v1/nodes/node-9/failover-plan", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
	if n := e.cluster.applies(); n != 3 {
		t.Fatalf("%d Apply calls, want only the 3 creates: a plan changes nothing", n)
	}
}
