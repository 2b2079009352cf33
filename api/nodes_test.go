package api

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

func TestNodes_ListAndGet(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	e.cluster.mustApply(t, fsm.PlaceVM{ID: vm.ID, Node: e.nodes[0].ID, Reason: "test", At: time.Now().UTC()})

	var nodes []client.Node
	e.do("GET", "/api/v1/nodes", e.root, nil).expect(t, http.StatusOK, &nodes)
	if len(nodes) != 2 || nodes[0].Name != "node-1" || nodes[1].Name != "node-2" {
		t.Fatalf("nodes = %+v", nodes)
	}
	n1 := nodes[0]
	if n1.VMs != 1 || n1.Allocated != (client.Capacity{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}) || n1.Capacity.VCPUs != 8 || n1.Status != "alive" {
		t.Fatalf("node-1 = %+v", n1)
	}
	if nodes[1].VMs != 0 || nodes[1].Allocated != (client.Capacity{}) {
		t.Fatalf("node-2 = %+v", nodes[1])
	}
	for _, ref := range []string{e.nodes[0].ID, "node-1"} {
		var n client.Node
		e.do("GET", "/api/v1/nodes/"+ref, e.root, nil).expect(t, http.StatusOK, &n)
		if n.ID != e.nodes[0].ID || n.VMs != 1 || n.Allocated.MemoryMiB != 1024 {
			t.Fatalf("GET node %s = %+v", ref, n)
		}
	}
	e.do("GET", "/api/v1/nodes/node-9", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
}

func TestNodes_EmptyListIsArray(t *testing.T) {
	e := newTestEnv(t)
	for _, n := range e.nodes {
		e.cluster.mustApply(t, fsm.RemoveNode{ID: n.ID})
	}
	a := e.do("GET", "/api/v1/nodes", e.root, nil).expect(t, http.StatusOK, nil)
	if strings.TrimSpace(string(a.body)) != "[]" {
		t.Fatalf("empty node list = %s, want []", a.body)
	}
}

func TestCluster_ShowsLeaderAndMembers(t *testing.T) {
	e := newTestEnv(t)
	var c client.Cluster
	e.do("GET", "/api/v1/cluster", e.root, nil).expect(t, http.StatusOK, &c)
	if c.ID != "c1" || c.Leader != "node-1" || c.LeaderID != e.nodes[0].ID || c.Node != "node-1" || c.Term != 2 || c.CommitIndex != 3 {
		t.Fatalf("cluster = %+v", c)
	}
	if c.AppliedIndex != e.fsm.AppliedIndex() {
		t.Fatalf("applied_index %d, want %d", c.AppliedIndex, e.fsm.AppliedIndex())
	}
	if len(c.Members) != 2 || !c.Members[0].Leader || c.Members[0].RaftRole != "voter" || c.Members[1].Status != "suspect" {
		t.Fatalf("members = %+v", c.Members)
	}
	if want := map[string]int{"sim": len(e.nodes)}; !maps.Equal(c.Hypervisors, want) {
		t.Fatalf("hypervisors = %v, want %v", c.Hypervisors, want)
	}
}

func TestClusterDigest_MatchesTheStateAndNeedsAToken(t *testing.T) {
	e := newTestEnv(t)
	var d client.Digest
	e.do("GET", "/api/v1/cluster/digest", e.root, nil).expect(t, http.StatusOK, &d)
	want, err := e.fsm.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d.Node != "node-1" || d.AppliedIndex != want.AppliedIndex || d.SHA256 != want.SHA256 || len(d.SHA256) != 64 || d.Nodes != want.Nodes {
		t.Fatalf("digest = %+v, want %+v", d, want)
	}
	e.do("GET", "/api/v1/cluster/digest", "", nil).expect(t, http.StatusUnauthorized, nil)
}
