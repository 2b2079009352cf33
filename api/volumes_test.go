package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// hostReports records what a volume's host did (fsm.ReportVolume), as the
// host agent will once it runs volumes.
func (e *testEnv) hostReports(r fsm.ReportVolume) {
	e.t.Helper()
	r.At = time.Now().UTC()
	e.cluster.mustApply(e.t, r)
}

// into decodes an answer into a new T: decoding into a used value would keep
// the fields the answer leaves out (omitempty).
func into[T any](t testing.TB, a answer, status int) T {
	t.Helper()
	var v T
	a.expect(t, status, &v)
	return v
}

// volume reads a volume through the API as root.
func (e *testEnv) volume(ref string) client.Volume {
	e.t.Helper()
	var v client.Volume
	e.do("GET", "/api/v1/volumes/"+ref, e.root, nil).expect(e.t, http.StatusOK, &v)
	return v
}

func TestVolumes_CreateListShow(t *testing.T) {
	e := newTestEnv(t)
	var v client.Volume
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 10}).expect(t, http.StatusCreated, &v)
	if v.ID == "" || v.Project != "default" || v.Pool != "default" || v.Format != "qcow2" || v.SizeGiB != 10 || v.FileGiB != 0 ||
		v.Attachment != "" || v.Deleting || v.CreatedAt.IsZero() {
		t.Fatalf("created volume %+v", v)
	}
	for _, ref := range []string{v.ID, v.ID[:8], "data"} {
		if got := e.volume(ref); got.ID != v.ID {
			t.Fatalf("volume %q is %+v, want %s", ref, got, v.ID)
		}
	}
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "prod"}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/volumes?project=prod", e.root, client.VolumeRequest{Name: "data", SizeGiB: 1}).expect(t, http.StatusCreated, nil)
	var list []client.Volume
	e.do("GET", "/api/v1/volumes", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != v.ID {
		t.Fatalf("default project's volumes %+v", list)
	}
	e.do("GET", "/api/v1/volumes?all-projects=true&limit=1", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].Project != "default" {
		t.Fatalf("first page of every project's volumes %+v", list)
	}
	a := e.do("GET", "/api/v1/volumes?all-projects=true", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 2 || list[1].Project != "prod" || a.header.Get("Link") != "" {
		t.Fatalf("every project's volumes %+v", list)
	}
	v = into[client.Volume](t, e.do("GET", "/api/v1/volumes/data?project=prod", e.root, nil), http.StatusOK)
	if v.Project != "prod" {
		t.Fatalf("prod's data is %+v", v)
	}
	e.do("GET", "/api/v1/volumes?project=prod&all-projects=true", e.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "contradict")
}

// Every refusal is a 4xx that names what is wrong, and none reaches Raft
// but those only the FSM can judge (the quota).
func TestVolumes_BadCreatesRefused(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 1}).expect(t, http.StatusCreated, nil)
	before := e.cluster.applies()
	for _, c := range []struct {
		what   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"no size", `{"name":"x"}`, 400, client.CodeInvalid, "size_gib is required"},
		{"size 0", client.VolumeRequest{Name: "x"}, 400, client.CodeInvalid, "size_gib is required"},
		{"negative size", client.VolumeRequest{Name: "x", SizeGiB: -1}, 400, client.CodeInvalid, "size_gib must be between 1 and 65536, got -1"},
		{"too big", client.VolumeRequest{Name: "x", SizeGiB: fsm.MaxVolumeGiB + 1}, 400, client.CodeInvalid, "size_gib must be between 1 and 65536"},
		{"no name", client.VolumeRequest{SizeGiB: 1}, 400, client.CodeInvalid, "name is required"},
		{"bad name", client.VolumeRequest{Name: "../etc", SizeGiB: 1}, 400, client.CodeInvalid, `name "../etc" may only hold`},
		{"unknown pool", client.VolumeRequest{Name: "x", SizeGiB: 1, Pool: "nfs"}, 404, client.CodeNotFound, `pool "nfs" not found`},
		{"taken name", client.VolumeRequest{Name: "data", SizeGiB: 1}, 409, client.CodeConflict, "already has a volume named data"},
		{"unknown field", `{"name":"x","size":1}`, 400, client.CodeBadJSON, "size"},
		{"string size", `{"name":"x","size_gib":"1"}`, 400, client.CodeBadJSON, "size_gib"},
		{"no body", "", 400, client.CodeBadJSON, "body is required"},
		{"too large", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, client.CodeBodyTooLarge, "larger than"},
	} {
		t.Run(c.what, func(t *testing.T) {
			e.do("POST", "/api/v1/volumes", e.root, c.body).expectError(t, c.status, c.code, c.msg)
		})
	}
	e.do("POST", "/api/v1/volumes?project=..", e.root, client.VolumeRequest{Name: "x", SizeGiB: 1}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "query parameter project")
	if n := e.cluster.applies() - before; n != 0 {
		t.Fatalf("%d refused creates reached Raft", n)
	}
	// A project's disk quota counts its volumes.
	disk := int64(5)
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "small", Quota: client.Quota{DiskGiB: &disk}}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/volumes?project=small", e.root, client.VolumeRequest{Name: "a", SizeGiB: 4}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/volumes?project=small", e.root, client.VolumeRequest{Name: "b", SizeGiB: 2}).expectError(t, http.StatusForbidden, client.CodeQuotaExceeded, "disk")
	e.do("PATCH", "/api/v1/volumes/a?project=small", e.root, client.VolumeResize{SizeGiB: 6}).expectError(t, http.StatusForbidden, client.CodeQuotaExceeded, "disk")
	// A viewer reads volumes and changes none.
	viewer := e.tokenFor("viewer")
	e.do("GET", "/api/v1/volumes/data", viewer, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/volumes", viewer, client.VolumeRequest{Name: "v", SizeGiB: 1}).expectError(t, http.StatusForbidden, client.CodeForbidden, "volume:write")
	e.do("DELETE", "/api/v1/volumes/data", viewer, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "volume:write")
	e.do("GET", "/api/v1/volumes/nope", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `volume "nope" not found`)
}

func TestVolumes_GrowOnlyAndThroughTheHost(t *testing.T) {
	e := newTestEnv(t)
	var v client.Volume
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 10}).expect(t, http.StatusCreated, &v)
	// A volume never made grows in its record: its file is made at the new
	// size, so nothing waits on a host.
	v = into[client.Volume](t, e.do("PATCH", "/api/v1/volumes/data", e.root, client.VolumeResize{SizeGiB: 12}), http.StatusAccepted)
	if v.SizeGiB != 12 || v.FileGiB != 0 {
		t.Fatalf("grown blank volume %+v", v)
	}
	e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
	for _, c := range []struct {
		body        any
		status      int
		code, msg   string
		description string
	}{
		{client.VolumeResize{SizeGiB: 8}, 400, client.CodeInvalid, "volume data is 12 GiB: a volume only grows", "shrink"},
		{`{}`, 400, client.CodeInvalid, "size_gib is required", "no size"},
		{client.VolumeResize{SizeGiB: fsm.MaxVolumeGiB + 1}, 400, client.CodeInvalid, "size_gib must be between", "too big"},
		{`{"size_gib":20,"name":"x"}`, 400, client.CodeBadJSON, "name", "another field"},
	} {
		e.do("PATCH", "/api/v1/volumes/data", e.root, c.body).expectError(t, c.status, c.code, c.msg)
	}
	// Attached to a running VM, made by its host: a growth waits for the
	// host, an operation until it has.
	vm := e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: "data"}).expect(t, http.StatusAccepted, nil)
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, FileGiB: 12, Attached: true})
	v = into[client.Volume](t, e.do("PATCH", "/api/v1/volumes/"+v.ID, e.root, client.VolumeResize{SizeGiB: 20}), http.StatusAccepted)
	if v.SizeGiB != 20 || v.FileGiB != 12 || v.Attachment != "attached" || v.VMName != "web" || v.Host != e.nodes[0].ID {
		t.Fatalf("growing volume %+v", v)
	}
	op := into[client.Operation](t, e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil), http.StatusOK)
	if op.Kind != "volume_resize" || op.State != client.OperationRunning || op.MayCancel || op.Object.Type != "volume" ||
		op.Links["volume"] != "/api/v1/volumes/"+v.ID || op.Links["vm"] != "/api/v1/vms/"+vm.ID {
		t.Fatalf("resize operation %+v", op)
	}
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, FileGiB: 20})
	if got := e.volume("data"); got.FileGiB != 20 {
		t.Fatalf("grown volume %+v", got)
	}
	e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
}

// The whole life of a volume on a running VM: each step the host must take
// is pending (202, an operation) until it reports it.
func TestVolumes_AttachDetachDeleteThroughTheHost(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	var v client.Volume
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 10}).expect(t, http.StatusCreated, &v)

	v = into[client.Volume](t, e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: "data"}), http.StatusAccepted)
	if v.Attachment != "attaching" || v.VM != vm.ID || v.VMName != "web" || v.Target != "vdc" || v.Host != e.nodes[0].ID {
		t.Fatalf("attaching volume %+v", v)
	}
	var op client.Operation
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil), http.StatusOK)
	if op.Kind != "volume_attach" || op.State != client.OperationRunning || op.Object.Name != "data" {
		t.Fatalf("attach operation %+v", op)
	}
	var got client.VM
	e.do("GET", "/api/v1/vms/web", e.root, nil).expect(t, http.StatusOK, &got)
	if len(got.Volumes) != 1 || got.Volumes[0] != (client.VMVolume{ID: v.ID, Name: "data", Target: "vdc", Attachment: "attaching", SizeGiB: 10}) {
		t.Fatalf("vm's volumes %+v", got.Volumes)
	}
	// A list leaves volumes out (it stays one read of the VMs).
	a := e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
	if strings.Contains(string(a.body), `"volumes"`) {
		t.Fatalf("a vm list shows volumes: %s", a.body)
	}
	e.do("DELETE", "/api/v1/vms/web/volumes/data", e.root, nil).expectError(t, http.StatusConflict, client.CodeConflict, "still attaching")
	e.do("PATCH", "/api/v1/volumes/data", e.root, client.VolumeResize{SizeGiB: 11}).expectError(t, http.StatusConflict, client.CodeConflict, "is attaching")

	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, FileGiB: 10, Attached: true})
	if v = e.volume("data"); v.Attachment != "attached" || v.FileGiB != 10 {
		t.Fatalf("attached volume %+v", v)
	}
	var vols []client.Volume
	e.do("GET", "/api/v1/vms/web/volumes", e.root, nil).expect(t, http.StatusOK, &vols)
	if len(vols) != 1 || vols[0].ID != v.ID || vols[0].VMName != "web" {
		t.Fatalf("vm's volumes %+v", vols)
	}
	e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusConflict, client.CodeConflict, "already attached to vm web")
	e.runningVM("db", e.nodes[0])
	e.do("POST", "/api/v1/vms/db/volumes", e.root, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusConflict, client.CodeInvalidState, "attached to vm web; detach it first")
	e.do("DELETE", "/api/v1/vms/db/volumes/data", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "not attached to vm db")
	e.do("DELETE", "/api/v1/volumes/data", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "attached to vm web")

	v = into[client.Volume](t, e.do("DELETE", "/api/v1/vms/web/volumes/"+v.ID[:8], e.root, nil), http.StatusAccepted)
	if v.Attachment != "detaching" || v.VM != vm.ID {
		t.Fatalf("detaching volume %+v", v)
	}
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil), http.StatusOK)
	if op.Kind != "volume_detach" || op.State != client.OperationRunning {
		t.Fatalf("detach operation %+v", op)
	}
	// The guest holds on to it: the host says so, the operation failed.
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, Error: "the guest has not released the disk yet"})
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil), http.StatusOK)
	if op.State != client.OperationFailed || op.Error != "the guest has not released the disk yet" {
		t.Fatalf("failed detach operation %+v", op)
	}
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, Detached: true})
	if v = e.volume("data"); v.Attachment != "" || v.VM != "" || v.Host != e.nodes[0].ID || v.Error != "" {
		t.Fatalf("detached volume %+v", v)
	}
	got = into[client.VM](t, e.do("GET", "/api/v1/vms/web", e.root, nil), http.StatusOK)
	if len(got.Volumes) != 0 {
		t.Fatalf("vm's volumes after the detach %+v", got.Volumes)
	}
	// Its file is on node-1's own disk: it attaches to VMs there only.
	e.runningVM("far", e.nodes[1])
	e.do("POST", "/api/v1/vms/far/volumes", e.root, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusConflict, client.CodeInvalidState, "on host node-1's own disk")

	v = into[client.Volume](t, e.do("DELETE", "/api/v1/volumes/data", e.root, nil), http.StatusAccepted)
	if !v.Deleting {
		t.Fatalf("deleted volume %+v, want deleting", v)
	}
	op = into[client.Operation](t, e.do("GET", "/api/v1/operations/"+v.ID, e.root, nil), http.StatusOK)
	if op.Kind != "volume_delete" || op.State != client.OperationRunning {
		t.Fatalf("delete operation %+v", op)
	}
	e.do("DELETE", "/api/v1/volumes/data", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "being deleted")
	e.do("PATCH", "/api/v1/volumes/data", e.root, client.VolumeResize{SizeGiB: 11}).expectError(t, http.StatusConflict, client.CodeInvalidState, "being deleted")
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, Deleted: true})
	e.do("GET", "/api/v1/volumes/"+v.ID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
}

// A VM whose domain cannot be running takes and gives up a volume at once;
// a volume never made is deleted at once (200, as an image's delete).
func TestVolumes_StoppedVMAttachesAtOnce(t *testing.T) {
	e := newTestEnv(t)
	e.placedVM(validVM("web"), e.nodes[0], fsm.VMStopped)
	var v client.Volume
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 1}).expect(t, http.StatusCreated, &v)
	v = into[client.Volume](t, e.do("POST", "/api/v1/vms/web/volumes", e.root, client.AttachRequest{Volume: v.ID}), http.StatusAccepted)
	if v.Attachment != "attached" || v.Target != "vdc" {
		t.Fatalf("volume of a stopped vm %+v", v)
	}
	var ops []client.Operation
	e.do("GET", "/api/v1/operations", e.root, nil).expect(t, http.StatusOK, &ops)
	for _, op := range ops {
		if op.ID == v.ID {
			t.Fatalf("an attach done at once is an operation: %+v", op)
		}
	}
	v = into[client.Volume](t, e.do("DELETE", "/api/v1/vms/web/volumes/data", e.root, nil), http.StatusAccepted)
	if v.Attachment != "" || v.VM != "" {
		t.Fatalf("volume detached from a stopped vm %+v", v)
	}
	v = into[client.Volume](t, e.do("DELETE", "/api/v1/volumes/data", e.root, nil), http.StatusOK)
	if v.Name != "data" || v.Deleting {
		t.Fatalf("deleted blank volume %+v: want it as it was", v)
	}
	e.do("GET", "/api/v1/volumes/data", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")
}

func TestVolumes_BadAttachesRefused(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "data", SizeGiB: 1}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/storage/pools", e.root, client.PoolRequest{Name: "nfs", Type: "shared", Path: "/mnt/nfs"}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/volumes", e.root, client.VolumeRequest{Name: "shared", SizeGiB: 1, Pool: "nfs"}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "prod"}).expect(t, http.StatusCreated, nil)
	var other client.Volume
	e.do("POST", "/api/v1/volumes?project=prod", e.root, client.VolumeRequest{Name: "theirs", SizeGiB: 1}).expect(t, http.StatusCreated, &other)
	for _, c := range []struct {
		what, path string
		body       any
		status     int
		code, msg  string
	}{
		{"unknown vm", "/api/v1/vms/nope/volumes", client.AttachRequest{Volume: "data"}, 404, client.CodeNotFound, `vm "nope" not found`},
		{"unknown volume", "/api/v1/vms/web/volumes", client.AttachRequest{Volume: "nope"}, 404, client.CodeNotFound, `volume "nope" not found`},
		{"no volume", "/api/v1/vms/web/volumes", `{}`, 400, client.CodeInvalid, "volume is required"},
		{"no body", "/api/v1/vms/web/volumes", "", 400, client.CodeBadJSON, "body is required"},
		{"another project's, by ID", "/api/v1/vms/web/volumes", client.AttachRequest{Volume: other.ID}, 404, client.CodeNotFound, "not found in project default"},
		{"another project's, by name", "/api/v1/vms/web/volumes", client.AttachRequest{Volume: "theirs"}, 404, client.CodeNotFound, `volume "theirs" not found`},
		{"another pool", "/api/v1/vms/web/volumes", client.AttachRequest{Volume: "shared"}, 400, client.CodeInvalid, "is in pool nfs, vm web's disks are in pool default"},
	} {
		t.Run(c.what, func(t *testing.T) {
			e.do("POST", c.path, e.root, c.body).expectError(t, c.status, c.code, c.msg)
		})
	}
	e.do("DELETE", "/api/v1/vms/web/volumes/nope", e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, `volume "nope" not found`)
	e.do("DELETE", "/api/v1/vms/web/volumes/"+other.ID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found in project default")
	e.do("DELETE", "/api/v1/vms/web/volumes/data", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "not attached to vm web")

	// vm:write on the VM is not enough: the volume needs volume:write.
	e.do("POST", "/api/v1/roles", e.root, client.RoleRequest{Name: "vm-only", Permissions: []string{"vm:read", "vm:write", "volume:read"}}).expect(t, http.StatusCreated, nil)
	vmOnly := e.tokenFor("vm-only")
	e.do("POST", "/api/v1/vms/web/volumes", vmOnly, client.AttachRequest{Volume: "data"}).expectError(t, http.StatusForbidden, client.CodeForbidden, "volume:write")
	// and volume:write is not enough without vm:write.
	e.do("POST", "/api/v1/roles", e.root, client.RoleRequest{Name: "volume-only", Permissions: []string{"vm:read", "volume:read", "volume:write"}}).expect(t, http.StatusCreated, nil)
	e.do("POST", "/api/v1/vms/web/volumes", e.tokenFor("volume-only"), client.AttachRequest{Volume: "data"}).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
	e.do("GET", "/api/v1/vms/web/volumes", vmOnly, nil).expect(t, http.StatusOK, nil)

	// A failed hotplug undoes the attach, with the host's error.
	var v client.Volume
	v = into[client.Volume](t, e.do("POST", "/api/v1/vms/"+vm.ID+"/volumes", e.root, client.AttachRequest{Volume: "data"}), http.StatusAccepted)
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, Error: "qemu: no free PCI slot"})
	if v = e.volume("data"); v.Attachment != "" || v.VM != "" || v.Error != "qemu: no free PCI slot" {
		t.Fatalf("volume after a failed attach %+v", v)
	}
}
