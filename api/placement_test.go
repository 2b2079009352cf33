package api

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

func TestCreateVM_WithPlacementConstraints(t *testing.T) {
	e := newTestEnv(t)
	req := validVM("web-1")
	req.Placement = &client.PlacementSpec{
		Strategy: "binpack", NodeSelector: map[string]string{"region": "eu"},
		Nodes: []string{"node-1", e.nodes[1].ID}, PreferredNodes: []string{"node-2"},
		Groups: []client.GroupRule{{Group: "web", Kind: "anti-affinity", Hard: true}, {Group: "cache", Kind: "affinity"}},
	}
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, &vm)
	if !reflect.DeepEqual(vm.Placement, req.Placement) {
		t.Fatalf("placement = %+v, want %+v", vm.Placement, req.Placement)
	}
	rec, err := e.fsm.VM(vm.ID)
	if err != nil || rec.Spec.Placement == nil || rec.Spec.Placement.Groups[0].Kind != fsm.GroupAntiAffinity || !rec.Spec.Placement.Groups[0].Hard {
		t.Fatalf("fsm placement = %+v (%v)", rec.Spec.Placement, err)
	}
	// PUT replaces the whole spec: no placement means none.
	var updated client.VM
	e.do("PUT", "/api/v1/vms/web-1", e.root, validVM("web-1")).expect(t, http.StatusOK, &updated)
	if updated.Placement != nil {
		t.Fatalf("placement after a PUT without one = %+v", updated.Placement)
	}
}

func TestCreateVM_BadPlacementNeverReachesApply(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		name string
		p    client.PlacementSpec
		msg  string
	}{
		{"strategy", client.PlacementSpec{Strategy: "random"}, `placement.strategy must be binpack or spread, got "random"`},
		{"unknown node", client.PlacementSpec{Nodes: []string{"node-1", "node-9"}}, `placement.nodes[1] "node-9" is not a node`},
		{"unknown preferred", client.PlacementSpec{PreferredNodes: []string{"nope"}}, `placement.preferred_nodes[0] "nope"`},
		{"selector key", client.PlacementSpec{NodeSelector: map[string]string{"bad key": "x"}}, "placement.node_selector key"},
		{"group kind", client.PlacementSpec{Groups: []client.GroupRule{{Group: "g", Kind: "near"}}}, "placement.groups[0].kind must be affinity or anti-affinity"},
		{"group name", client.PlacementSpec{Groups: []client.GroupRule{{Kind: "affinity"}}}, "placement.groups[0].group is required"},
		{"group twice", client.PlacementSpec{Groups: []client.GroupRule{{Group: "g", Kind: "affinity"}, {Group: "g", Kind: "anti-affinity"}}}, `group "g" is named twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := validVM("web-1")
			req.Placement = &c.p
			e.do("POST", "/api/v1/vms", e.root, req).expectError(t, http.StatusBadRequest, "invalid", c.msg)
		})
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from refused placements", n)
	}
}

func TestGetVM_ShowsDecisionAndWhyPending(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now().UTC()
	// A VM that wants a label no node has waits, and says why.
	req := validVM("gpu-1")
	req.Placement = &client.PlacementSpec{NodeSelector: map[string]string{"gpu": "true"}}
	vm := e.createVM2(req)
	rec, _ := e.fsm.VM(vm.ID)
	d := scheduler.FromState(e.fsm).Place(&rec, scheduler.Options{At: now})
	if d.OK() {
		t.Fatalf("no node has gpu=true, yet the scheduler chose %s", d.NodeName)
	}
	e.cluster.mustApply(t, fsm.PlaceVM{ID: vm.ID, Reason: d.Reason, Decision: &d, At: now})
	var got client.VM
	e.do("GET", "/api/v1/vms/gpu-1", e.root, nil).expect(t, http.StatusOK, &got)
	if got.State != "pending" || got.PlacementReason != d.Reason || got.Decision == nil || got.Decision.OK() {
		t.Fatalf("pending vm = %+v", got)
	}
	if got.Decision.Considered != 2 || got.Decision.Feasible != 0 || got.Decision.RejectedCounts["node-selector"] != 2 ||
		len(got.Decision.Rejected) != 2 || !strings.Contains(got.Decision.Rejected[0].Reason, "gpu") {
		t.Fatalf("decision = %+v", got.Decision)
	}

	// A placed VM shows the decision that placed it, with the candidates' scores.
	web := e.createVM("web-1")
	rec, _ = e.fsm.VM(web.ID)
	d = scheduler.FromState(e.fsm).Place(&rec, scheduler.Options{At: now})
	e.cluster.mustApply(t, fsm.PlaceVM{ID: web.ID, Node: d.Node, Reason: d.Reason, Decision: &d, At: now})
	e.do("GET", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &got)
	if got.Node != d.Node || !got.Decision.OK() || got.Decision.NodeName != got.NodeName || got.Decision.Strategy != "spread" ||
		len(got.Decision.Candidates) != 2 || got.Decision.Candidates[0].Parts["strategy"] == 0 || got.Decision.At == nil {
		t.Fatalf("placed vm decision = %+v", got.Decision)
	}
}

// createVM2 creates req through the API as root.
func (e *testEnv) createVM2(req client.VMRequest) client.VM {
	e.t.Helper()
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(e.t, http.StatusCreated, &vm)
	return vm
}

func TestNodes_ShowMaintenanceAndHypervisor(t *testing.T) {
	e := newTestEnv(t)
	n := fsm.Node{ID: "n-3", Name: "node-3", Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 8192}, Status: fsm.NodeAlive,
		CPUOvercommit: 2, Fleet: "agent-7", Hypervisor: fsm.HypervisorInfo{Driver: "sim", URI: "sim://3", MigrateURI: "tcp://10.0.0.3"}}
	e.cluster.mustApply(t, fsm.RegisterNode{Node: n, At: time.Now().UTC()})
	e.cluster.mustApply(t, fsm.SetMaintenance{ID: n.ID, Maintenance: true, Reason: "disk swap", At: time.Now().UTC()})
	var nodes []client.Node
	e.do("GET", "/api/v1/nodes", e.root, nil).expect(t, http.StatusOK, &nodes)
	got := nodes[2]
	if got.Name != "node-3" || !got.Maintenance || got.MaintenanceReason != "disk swap" || got.MaintenanceSince == nil {
		t.Fatalf("node-3 maintenance = %+v", got)
	}
	if got.CPUOvercommit != 2 || got.Effective.VCPUs != 8 || got.Effective.MemoryMiB != 8192 || got.Fleet != "agent-7" {
		t.Fatalf("node-3 capacity = %+v", got)
	}
	if got.Hypervisor != (client.Hypervisor{Driver: "sim", URI: "sim://3", MigrateURI: "tcp://10.0.0.3"}) {
		t.Fatalf("hypervisor = %+v", got.Hypervisor)
	}
	if nodes[0].Maintenance || nodes[0].MaintenanceSince != nil || nodes[0].Effective != nodes[0].Capacity {
		t.Fatalf("node-1 = %+v", nodes[0])
	}
}
