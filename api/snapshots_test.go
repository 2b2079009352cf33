package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// hostSnapshots records what a VM's host did with a snapshot
// (fsm.ReportVMSnapshot), as the host agent does once it acted.
func (e *testEnv) hostSnapshots(r fsm.ReportVMSnapshot) {
	e.t.Helper()
	r.At = time.Now().UTC()
	e.cluster.mustApply(e.t, r)
}

// snapshot reads a VM's snapshot through the API as root.
func (e *testEnv) snapshot(vm, name string) client.VMSnapshot {
	e.t.Helper()
	return into[client.VMSnapshot](e.t, e.do("GET", "/api/v1/vms/"+vm+"/snapshots/"+name, e.root, nil), http.StatusOK)
}

// The whole life of a snapshot of a running VM: each step the host must
// take is 202 and an operation until it reports it.
func TestSnapshots_CreateRevertDeleteThroughTheHost(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	node := e.nodes[0].ID

	sn := into[client.VMSnapshot](t, e.do("POST", "/api/v1/vms/web/snapshots", e.root, `{"name":"before-upgrade","memory":true}`), http.StatusAccepted)
	if sn.Name != "before-upgrade" || !sn.Memory || sn.State != client.SnapshotCreating || sn.Error != "" || sn.CreatedAt.IsZero() {
		t.Fatalf("new snapshot %+v", sn)
	}
	opID := vm.ID + ":before-upgrade"
	op := into[client.Operation](t, e.do("GET", "/api/v1/operations/"+opID, e.root, nil), http.StatusOK)
	if op.ID != opID || op.Kind != "snapshot_create" || op.State != client.OperationRunning || op.MayCancel || op.Project != "default" ||
		op.Object != (client.OperationObject{Type: "snapshot", ID: opID, Name: "web/before-upgrade"}) ||
		op.Links["vm"] != "/api/v1/vms/"+vm.ID || op.Links["snapshot"] != "/api/v1/vms/"+vm.ID+"/snapshots/before-upgrade" {
		t.Fatalf("create operation %+v", op)
	}
	var ops []client.Operation
	e.do("GET", "/api/v1/operations", e.root, nil).expect(t, http.StatusOK, &ops)
	if len(ops) != 1 || ops[0].ID != opID {
		t.Fatalf("operations %+v", ops)
	}
	e.do("DELETE", "/api/v1/operations/"+opID, e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "cannot be cancelled")
	// One action at a time.
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "s2"}).expectError(t, http.StatusConflict, client.CodeConflict, "snapshot before-upgrade of vm web is creating")
	e.do("POST", "/api/v1/vms/web/snapshots/before-upgrade/revert", e.root, nil).expectError(t, http.StatusConflict, client.CodeConflict, "is creating")

	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "before-upgrade", Node: node})
	if sn = e.snapshot("web", "before-upgrade"); sn.State != client.SnapshotReady || !sn.Memory {
		t.Fatalf("taken snapshot %+v", sn)
	}
	e.do("GET", "/api/v1/operations/"+opID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
	e.do("POST", "/api/v1/vms/"+vm.ID[:8]+"/snapshots", e.root, client.SnapshotRequest{Name: "disks-only"}).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "disks-only", Node: node})
	var list []client.VMSnapshot
	e.do("GET", "/api/v1/vms/web/snapshots", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 2 || list[0].Name != "before-upgrade" || list[1].Name != "disks-only" || list[1].Memory {
		t.Fatalf("snapshots, oldest first: %+v", list)
	}
	// The VM shows them, in its own answer and in lists.
	got := into[client.VM](t, e.do("GET", "/api/v1/vms/web", e.root, nil), http.StatusOK)
	if len(got.Snapshots) != 2 || got.Snapshots[0].Name != "before-upgrade" || got.Snapshots[0].State != client.SnapshotReady {
		t.Fatalf("vm's snapshots %+v", got.Snapshots)
	}
	var vms []client.VM
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, &vms)
	if len(vms) != 1 || len(vms[0].Snapshots) != 2 {
		t.Fatalf("vm list %+v", vms)
	}

	sn = into[client.VMSnapshot](t, e.do("POST", "/api/v1/vms/web/snapshots/before-upgrade/revert", e.root, nil), http.StatusAccepted)
	if sn.State != client.SnapshotReverting {
		t.Fatalf("reverting snapshot %+v", sn)
	}
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+opID, e.root, nil), http.StatusOK)
	if op.Kind != "snapshot_revert" || op.State != client.OperationRunning {
		t.Fatalf("revert operation %+v", op)
	}
	e.do("DELETE", "/api/v1/vms/web/snapshots/disks-only", e.root, nil).expectError(t, http.StatusConflict, client.CodeConflict, "is reverting")
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "before-upgrade", Node: node})
	if sn = e.snapshot("web", "before-upgrade"); sn.State != client.SnapshotReady || sn.Error != "" {
		t.Fatalf("reverted snapshot %+v", sn)
	}

	sn = into[client.VMSnapshot](t, e.do("DELETE", "/api/v1/vms/web/snapshots/before-upgrade", e.root, nil), http.StatusAccepted)
	if sn.State != client.SnapshotDeleting {
		t.Fatalf("deleted snapshot %+v, want deleting", sn)
	}
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+opID, e.root, nil), http.StatusOK)
	if op.Kind != "snapshot_delete" {
		t.Fatalf("delete operation %+v", op)
	}
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "before-upgrade", Node: node})
	e.do("GET", "/api/v1/vms/web/snapshots/before-upgrade", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `vm web has no snapshot "before-upgrade"`)
	e.do("GET", "/api/v1/operations/"+opID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
	e.do("DELETE", "/api/v1/vms/web/snapshots/disks-only", e.root, nil).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "disks-only", Node: node})
	list = into[[]client.VMSnapshot](t, e.do("GET", "/api/v1/vms/web/snapshots", e.root, nil), http.StatusOK)
	if list == nil || len(list) != 0 {
		t.Fatalf("snapshots after the deletes: %#v, want an empty list", list)
	}
	// Without snapshots the VM moves again.
	e.do("POST", "/api/v1/vms/web/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, nil)
}

// What the host could not do is on the snapshot: a failed creation stays,
// failed, until deleted (at once: 200); a failed revert or delete leaves it
// ready, with the host's error.
func TestSnapshots_HostFailures(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	node := e.nodes[0].ID
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "broken"}).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "broken", Node: node, Error: "disk vdc does not support snapshots"})
	sn := e.snapshot("web", "broken")
	if sn.State != client.SnapshotFailed || sn.Error != "disk vdc does not support snapshots" {
		t.Fatalf("failed snapshot %+v", sn)
	}
	e.do("POST", "/api/v1/vms/web/snapshots/broken/revert", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "snapshot broken of vm web is failed, not ready")
	before := e.cluster.applies()
	sn = into[client.VMSnapshot](t, e.do("DELETE", "/api/v1/vms/web/snapshots/broken", e.root, nil), http.StatusOK)
	if sn.Name != "broken" || sn.State != client.SnapshotFailed || e.cluster.applies() != before+1 {
		t.Fatalf("deleted failed snapshot %+v: want it as it was, gone at once", sn)
	}
	e.do("GET", "/api/v1/vms/web/snapshots/broken", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "no snapshot")

	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "s1"}).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: node})
	e.do("POST", "/api/v1/vms/web/snapshots/s1/revert", e.root, nil).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: node, Error: "libvirt: revert failed"})
	if sn = e.snapshot("web", "s1"); sn.State != client.SnapshotReady || sn.Error != "libvirt: revert failed" {
		t.Fatalf("after a failed revert %+v", sn)
	}
	// A new action clears the error.
	sn = into[client.VMSnapshot](t, e.do("DELETE", "/api/v1/vms/web/snapshots/s1", e.root, nil), http.StatusAccepted)
	if sn.State != client.SnapshotDeleting || sn.Error != "" {
		t.Fatalf("deleting %+v", sn)
	}
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: node, Error: "permission denied"})
	if sn = e.snapshot("web", "s1"); sn.State != client.SnapshotReady || sn.Error != "permission denied" {
		t.Fatalf("after a failed delete %+v", sn)
	}
}

// Every refusal is a 4xx that names what is wrong; those the request alone
// shows never reach Raft.
func TestSnapshots_BadRequestsRefused(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	e.placedVM(validVM("cold"), e.nodes[0], fsm.VMStopped)
	e.createVM("unplaced")
	e.runningVM("moving", e.nodes[0])
	e.do("POST", "/api/v1/vms/moving/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, nil)
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "s1"}).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: e.nodes[0].ID})

	before := e.cluster.applies()
	for _, c := range []struct {
		what, path string
		body       any
		status     int
		code, msg  string
	}{
		{"no name", "web", `{"memory":false}`, 400, client.CodeInvalid, "name is required"},
		{"bad name", "web", client.SnapshotRequest{Name: "../x"}, 400, client.CodeInvalid, `name "../x" may only hold`},
		{"long name", "web", client.SnapshotRequest{Name: strings.Repeat("a", fsm.MaxNameLen+1)}, 400, client.CodeInvalid, "at most"},
		{"unknown field", "web", `{"name":"x","memroy":true}`, 400, client.CodeBadJSON, "memroy"},
		{"a server's field", "web", `{"name":"x","state":"ready"}`, 400, client.CodeBadJSON, "set by the server"},
		{"string memory", "web", `{"name":"x","memory":"yes"}`, 400, client.CodeBadJSON, "memory"},
		{"no body", "web", "", 400, client.CodeBadJSON, "body is required"},
		{"taken name", "web", client.SnapshotRequest{Name: "s1"}, 409, client.CodeConflict, "vm web already has a snapshot named s1"},
		{"unknown vm", "nope", client.SnapshotRequest{Name: "x"}, 404, client.CodeNotFound, `vm "nope" not found`},
	} {
		t.Run(c.what, func(t *testing.T) {
			e.do("POST", "/api/v1/vms/"+c.path+"/snapshots", e.root, c.body).expectError(t, c.status, c.code, c.msg)
		})
	}
	e.do("POST", "/api/v1/vms/web/snapshots/nope/revert", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `vm web has no snapshot "nope"`)
	e.do("DELETE", "/api/v1/vms/web/snapshots/nope", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `vm web has no snapshot "nope"`)
	e.do("GET", "/api/v1/vms/nope/snapshots", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `vm "nope" not found`)
	if n := e.cluster.applies() - before; n != 0 {
		t.Fatalf("%d refused requests reached Raft", n)
	}

	// What only the VM's state decides, the FSM judges.
	for _, c := range []struct {
		what, vm  string
		req       client.SnapshotRequest
		status    int
		code, msg string
	}{
		{"memory of a stopped vm", "cold", client.SnapshotRequest{Name: "m", Memory: true}, 409, client.CodeInvalidState, "only a running or paused guest has a memory state"},
		{"an unplaced vm", "unplaced", client.SnapshotRequest{Name: "x"}, 409, client.CodeInvalidState, "not placed on any host yet"},
		{"a migrating vm", "moving", client.SnapshotRequest{Name: "x"}, 409, client.CodeConflict, "is migrating"},
	} {
		t.Run(c.what, func(t *testing.T) {
			e.do("POST", "/api/v1/vms/"+c.vm+"/snapshots", e.root, c.req).expectError(t, c.status, c.code, c.msg)
		})
	}
	// A stopped VM's disks alone are taken.
	e.do("POST", "/api/v1/vms/cold/snapshots", e.root, client.SnapshotRequest{Name: "disks"}).expect(t, http.StatusAccepted, nil)

	// At most fsm.MaxVMSnapshots.
	for i := 2; i <= fsm.MaxVMSnapshots; i++ {
		name := fmt.Sprintf("s%d", i)
		e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: name}).expect(t, http.StatusAccepted, nil)
		e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: name, Node: e.nodes[0].ID})
	}
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "one-more"}).expectError(t, http.StatusConflict, client.CodeConflict,
		fmt.Sprintf("vm web has %d snapshots, the most it may", fsm.MaxVMSnapshots))

	// A viewer reads snapshots and changes none.
	viewer := e.tokenFor("viewer")
	e.do("GET", "/api/v1/vms/web/snapshots/s1", viewer, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/vms/web/snapshots", viewer, client.SnapshotRequest{Name: "v"}).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
	e.do("POST", "/api/v1/vms/web/snapshots/s1/revert", viewer, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
	e.do("DELETE", "/api/v1/vms/web/snapshots/s1", viewer, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
}

// A VM with snapshots neither migrates nor changes volumes: they live
// inside its disks on its host.
func TestSnapshots_PinTheVMAndItsVolumes(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 1}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "s1"}).expect(t, http.StatusAccepted, nil)
	// Not even while the first is being taken.
	e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusConflict, client.CodeInvalidState, "delete its snapshots first")
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: e.nodes[0].ID})
	e.do("POST", "/api/v1/vms/web/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expectError(t, http.StatusConflict, client.CodeInvalidState, "snapshots")
	e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusConflict, client.CodeInvalidState, "delete its snapshots first")
}

// httprouter holds POST /vms/:id/snapshots and .../snapshots/:name/revert
// only beside /vms/:id/:action, through vmAction and an /:action/:name/revert
// route: the VM's own actions still work, other shapes are 404, and the
// audit log names the snapshot routes.
func TestSnapshots_RoutesBesideTheVMActions(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", AuditQueue: 1000}, nil)
	e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/vms/web/snapshots", e.root, client.SnapshotRequest{Name: "s1"}).expect(t, http.StatusAccepted, nil)
	vm, err := e.fsm.VMByName("default", "web")
	if err != nil {
		t.Fatal(err)
	}
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: e.nodes[0].ID})
	e.do("POST", "/api/v1/vms/web/volumes/s1/revert", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "")
	e.do("POST", "/api/v1/vms/web/snapshots/s1/undo", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "")
	e.do("POST", "/api/v1/vms/web/reboot", e.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "reboot")
	e.do("POST", "/api/v1/vms/web/snapshots/s1/revert", e.root, nil).expect(t, http.StatusAccepted, nil)
	e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: "s1", Node: e.nodes[0].ID})
	e.do("POST", "/api/v1/vms/web/pause", e.root, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/vms/web/stop", e.root, nil).expect(t, http.StatusOK, nil)
	for _, action := range []string{"POST /api/v1/vms/:id/snapshots", "POST /api/v1/vms/:id/snapshots/:name/revert", "POST /api/v1/vms/:id/pause"} {
		e.auditHas(action, func(a fsm.AuditEntry) bool { return a.Action == action && a.Status < 300 })
	}
}
