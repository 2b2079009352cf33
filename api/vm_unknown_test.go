package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// A VM whose host failed is not shown running: it is unknown, says why, and
// keeps what the host last reported; once the host is back it shows that again.
func TestVM_UnknownWhileItsHostIsFailed(t *testing.T) {
	e := newTestEnv(t)
	req := validVM("web-1")
	req.HA = &client.HASpec{Disabled: true}
	e.runningVM2(req, e.nodes[1])
	e.runningVM("db-1", e.nodes[0])
	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: e.nodes[1].ID, Status: fsm.NodeFailed, Cause: "gossip: member failed", At: time.Now().UTC()})

	var vm client.VM
	e.do("GET", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &vm)
	if vm.State != "unknown" || vm.LastState != "running" {
		t.Fatalf("state %q, last %q; want unknown, last running", vm.State, vm.LastState)
	}
	for _, want := range []string{"host node-2 is failed", "gossip: member failed", "last reported running", "HA is off"} {
		if !strings.Contains(vm.StateReason, want) {
			t.Errorf("state_reason %q does not say %q", vm.StateReason, want)
		}
	}
	names := func(query string) []string {
		var vms []client.VM
		e.do("GET", "/api/v1/vms"+query, e.root, nil).expect(t, http.StatusOK, &vms)
		var out []string
		for _, v := range vms {
			out = append(out, v.Name+"="+v.State)
		}
		return out
	}
	if got := strings.Join(names(""), ","); got != "db-1=running,web-1=unknown" {
		t.Errorf("list = %s", got)
	}
	if got := strings.Join(names("?state=unknown"), ","); got != "web-1=unknown" {
		t.Errorf("?state=unknown = %s", got)
	}
	if got := strings.Join(names("?state=running"), ","); got != "db-1=running" {
		t.Errorf("?state=running = %s", got)
	}
	e.do("GET", "/api/v1/vms?state=lost", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "unknown")

	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: e.nodes[1].ID, Status: fsm.NodeAlive, Cause: "gossip: member alive", At: time.Now().UTC()})
	vm = client.VM{}
	e.do("GET", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &vm)
	if vm.State != "running" || vm.StateReason != "" || vm.LastState != "" {
		t.Fatalf("host back: state %q, reason %q, last %q", vm.State, vm.StateReason, vm.LastState)
	}
}

// runningVM2 creates req as a running VM on node.
func (e *testEnv) runningVM2(req client.VMRequest, node fsm.Node) client.VM {
	e.t.Helper()
	return e.placedVM(req, node, fsm.VMRunning)
}
