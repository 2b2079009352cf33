package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

func TestFailovers_ListAndShowWithStepTimes(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	dead, alive := e.nodes[0], e.nodes[1]
	e.cluster.mustApply(t, fsm.PlaceVM{ID: vm.ID, Node: dead.ID, Reason: "test", At: time.Now().UTC()})
	cur, _ := e.fsm.VM(vm.ID)
	renewal := time.Now().UTC().Add(-20 * time.Second)
	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: dead.ID, Status: fsm.NodeFailed, Cause: "test", At: renewal})
	e.cluster.mustApply(t, fsm.StartFailover{Failover: fsm.Failover{ID: "fo-1", Node: dead.ID, Cause: "heartbeat: no lease renewal for 11.0s",
		LastRenewal: renewal, DetectedAt: renewal.Add(3 * time.Second), FencedAt: renewal.Add(10 * time.Second), RestartedAt: renewal.Add(11 * time.Second),
		VMs: []fsm.FailoverVM{{VMID: vm.ID, Node: alive.ID}}}, FromGenerations: map[string]uint64{vm.ID: cur.Generation}})

	reader := e.tokenFor("reader")
	var list []client.Failover
	e.do("GET", "/api/v1/failovers", reader, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != "fo-1" || list[0].NodeName != dead.Name {
		t.Fatalf("failovers %+v", list)
	}
	fo := list[0]
	if fo.DetectedAfterMs != 3000 || fo.FencedAfterMs != 10000 || fo.RestartedAfterMs != 11000 || fo.VMs[0].NodeName != alive.Name {
		t.Fatalf("step times %+v", fo)
	}
	e.do("GET", "/api/v1/failovers?node="+dead.Name, reader, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 {
		t.Fatalf("filter by node name: %+v", list)
	}
	e.do("GET", "/api/v1/failovers?node="+alive.Name, reader, nil).expect(t, http.StatusOK, &list)
	if len(list) != 0 {
		t.Fatalf("filter by another node: %+v", list)
	}
	var one client.Failover
	e.do("GET", "/api/v1/failovers/fo-1", reader, nil).expect(t, http.StatusOK, &one)
	if one.ID != "fo-1" || len(one.VMs) != 1 {
		t.Fatalf("failover %+v", one)
	}
	e.do("GET", "/api/v1/failovers/nope", reader, nil).expect(t, http.StatusNotFound, nil)
	e.do("GET", "/api/v1/failovers", "", nil).expect(t, http.StatusUnauthorized, nil)
}
