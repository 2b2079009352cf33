package api

import (
	"net/http"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// A deleted VM's removal shows, with its host, until the host confirms its
// domain gone; then it is 404, as for a VM that never had a host.
func TestRemovals_ShowUntilTheHostConfirms(t *testing.T) {
	e := newTestEnv(t)
	e.cluster.mu.Lock()
	e.cluster.placeOn = e.nodes[1].ID
	e.cluster.mu.Unlock()
	vm := e.createVM("web-1")
	e.do("DELETE", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, nil)

	var rm client.Removal
	e.do("GET", "/api/v1/removals/"+vm.ID, e.root, nil).expect(t, http.StatusOK, &rm)
	if rm.Name != "web-1" || rm.Node != e.nodes[1].ID || rm.NodeName != "node-2" || rm.NodeStatus != "alive" || rm.DeletedAt.IsZero() {
		t.Fatalf("removal = %+v, want web-1 on node-2 (alive) with its time", rm)
	}
	var list []client.Removal
	e.do("GET", "/api/v1/removals?node=node-2", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].VMID != vm.ID {
		t.Fatalf("removals on node-2 = %+v", list)
	}
	e.do("GET", "/api/v1/removals?node=node-1", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 0 {
		t.Fatalf("removals on node-1 = %+v, want none", list)
	}
	e.do("GET", "/api/v1/removals?node=nope", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "nope")

	e.cluster.mustApply(t, fsm.DomainRemoved{Node: e.nodes[1].ID, VMIDs: []string{vm.ID}})
	e.do("GET", "/api/v1/removals/"+vm.ID, e.root, nil).expectError(t, http.StatusNotFound, "not_found", "has removed its domain")
	e.do("GET", "/api/v1/removals/"+vm.ID, "", nil).expect(t, http.StatusUnauthorized, nil)
}
