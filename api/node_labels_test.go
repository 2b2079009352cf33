package api

import (
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// A label set through the API is on the node for everyone, and placement
// matches it: a VM that selects it goes there and nowhere else.
func TestNodeLabels_SetShowAndPlace(t *testing.T) {
	e := newTestEnv(t)
	var n client.Node
	e.do("POST", "/api/v1/nodes/node-2/labels", e.root, client.NodeLabelsRequest{Set: map[string]string{"region": "eu"}}).
		expect(t, http.StatusOK, &n)
	if want := map[string]string{"region": "eu"}; n.Name != "node-2" || !maps.Equal(n.Labels, want) || !maps.Equal(n.SetLabels, want) {
		t.Fatalf("answer = labels %v, set %v", n.Labels, n.SetLabels)
	}
	e.do("GET", "/api/v1/nodes/node-2", e.root, nil).expect(t, http.StatusOK, &n)
	if n.Labels["region"] != "eu" {
		t.Fatalf("GET after set: labels %v", n.Labels)
	}

	req := validVM("eu-1")
	req.Placement = &client.PlacementSpec{NodeSelector: map[string]string{"region": "eu"}}
	vm := e.createVM2(req)
	rec, _ := e.fsm.VM(vm.ID)
	if d := scheduler.FromState(e.fsm).Place(&rec, scheduler.Options{At: time.Now()}); d.NodeName != "node-2" {
		t.Fatalf("region=eu placed on %q (%s), want node-2", d.NodeName, d.Reason)
	}

	var after client.Node
	e.do("POST", "/api/v1/nodes/"+e.nodes[1].ID+"/labels", e.root, client.NodeLabelsRequest{Unset: []string{"region"}}).
		expect(t, http.StatusOK, &after)
	if len(after.Labels) != 0 || after.SetLabels != nil {
		t.Fatalf("after unset: labels %v, set %v", after.Labels, after.SetLabels)
	}
	if d := scheduler.FromState(e.fsm).Place(&rec, scheduler.Options{At: time.Now()}); d.OK() {
		t.Fatalf("no node has region=eu any more, yet %s was chosen", d.NodeName)
	}
}

func TestNodeLabels_BadRequestsNameTheProblem(t *testing.T) {
	e := newTestEnv(t)
	e.cluster.mustApply(t, fsm.RegisterNode{Node: fsm.Node{ID: e.nodes[0].ID, Name: "node-1", Status: fsm.NodeAlive,
		Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 16384, DiskGiB: 100}, Labels: map[string]string{"rack": "r1"},
		Hypervisor: fsm.HypervisorInfo{Driver: "sim"}}, At: time.Now()})
	for _, c := range []struct {
		node   string
		body   any
		status int
		code   string
		says   string
	}{
		{"node-1", client.NodeLabelsRequest{}, http.StatusBadRequest, "invalid", `"unset"`},
		{"node-1", client.NodeLabelsRequest{Set: map[string]string{"bad key": "x"}}, http.StatusBadRequest, "invalid", "set key"},
		{"node-1", client.NodeLabelsRequest{Unset: []string{"rack"}}, http.StatusBadRequest, "invalid", "comes from its agent"},
		{"node-1", client.NodeLabelsRequest{Unset: []string{"zone"}}, http.StatusNotFound, "not_found", `no label "zone"`},
		{"node-9", client.NodeLabelsRequest{Set: map[string]string{"a": "b"}}, http.StatusNotFound, "not_found", "node-9"},
		{"node-1", map[string]any{"set": map[string]string{"a": "b"}, "colour": 1}, http.StatusBadRequest, "bad_json", "colour"},
	} {
		e.do("POST", "/api/v1/nodes/"+c.node+"/labels", e.root, c.body).expectError(t, c.status, c.code, c.says)
	}
	n, _ := e.fsm.Node(e.nodes[0].ID)
	if n.SetLabels != nil || n.Labels["rack"] != "r1" {
		t.Fatalf("a refused request changed the node: labels %v, set %v", n.Labels, n.SetLabels)
	}
	reader := e.tokenFor("reader")
	e.do("POST", "/api/v1/nodes/node-1/labels", reader, client.NodeLabelsRequest{Set: map[string]string{"a": "b"}}).
		expectError(t, http.StatusForbidden, "forbidden", "lacks node:write")
}
