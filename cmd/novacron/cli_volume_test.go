package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// fakeVolumes is the fake API's data volumes. A change the host must make
// (attaching, detaching, growing, deleting) is done at the volume's
// hostReads-th read after it, or fails with hostError; hostReads 0 leaves
// it pending.
type fakeVolumes struct {
	vols      []*client.Volume
	hostReads int
	hostError string
	reads     map[string]int
}

// routeVolumes adds the fake's volume routes to mux.
func (f *fakeAPI) routeVolumes(mux *http.ServeMux) {
	f.volumes.reads = map[string]int{}
	f.volumes.hostReads = 2
	mux.HandleFunc("GET /api/v1/volumes", f.handle(f.listVolumes))
	mux.HandleFunc("POST /api/v1/volumes", f.handle(f.createVolume))
	mux.HandleFunc("GET /api/v1/volumes/{id}", f.handle(f.getVolume))
	mux.HandleFunc("PATCH /api/v1/volumes/{id}", f.handle(f.resizeVolume))
	mux.HandleFunc("DELETE /api/v1/volumes/{id}", f.handle(f.deleteVolume))
	mux.HandleFunc("POST /api/v1/vms/{id}/volumes", f.handle(f.attachVolume))
	mux.HandleFunc("DELETE /api/v1/vms/{id}/volumes/{volume}", f.handle(f.detachVolume))
	mux.HandleFunc("GET /api/v1/vms/{id}/volumes", f.handle(f.vmVolumes))
}

var fakeVolumeTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeAPI) findVolume(ref string) (*client.Volume, error) {
	for _, v := range f.volumes.vols {
		if v.ID == ref || v.Name == ref {
			return v, nil
		}
	}
	return nil, notFound("volume", ref)
}

func (f *fakeAPI) listVolumes(*http.Request) (any, int, error) {
	out := []client.Volume{}
	for _, v := range f.volumes.vols {
		out = append(out, *v)
	}
	return out, 200, nil
}

func (f *fakeAPI) createVolume(r *http.Request) (any, int, error) {
	var req client.VolumeRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	if _, err := f.findVolume(req.Name); err == nil {
		return nil, 0, &apiErr{409, "conflict", fmt.Sprintf("project default already has a volume named %s", req.Name)}
	}
	if req.Pool == "" {
		req.Pool = "default"
	}
	v := &client.Volume{ID: fmt.Sprintf("vol-%d", len(f.volumes.vols)+1), Project: "default", Name: req.Name, Pool: req.Pool,
		Format: "qcow2", SizeGiB: req.SizeGiB, CreatedAt: fakeVolumeTime, UpdatedAt: fakeVolumeTime}
	f.volumes.vols = append(f.volumes.vols, v)
	f.index++
	return *v, 201, nil
}

// getVolume answers a volume, after the host's work is done when its time
// has come.
func (f *fakeAPI) getVolume(r *http.Request) (any, int, error) {
	v, err := f.findVolume(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	if gone := f.advanceVolume(v); gone {
		return nil, 0, notFound("volume", r.PathValue("id"))
	}
	return *v, 200, nil
}

// advanceVolume counts a read of v (or of its operation): at the
// hostReads-th since its last change the host's work is done (or failed
// with hostError); gone says a deletion removed it.
func (f *fakeAPI) advanceVolume(v *client.Volume) (gone bool) {
	f.volumes.reads[v.ID]++
	if f.volumes.hostReads == 0 || f.volumes.reads[v.ID] < f.volumes.hostReads {
		return false
	}
	failed := f.volumes.hostError
	v.Error = failed
	switch {
	case v.Deleting:
		if failed == "" {
			f.removeVolume(v)
			return true
		}
	case v.Attachment == client.VolumeAttaching:
		v.Attachment = client.VolumeAttached
		v.FileGiB = v.SizeGiB
		if failed != "" {
			v.Attachment, v.VM, v.VMName, v.Target, v.FileGiB = "", "", "", "", 0
		}
	case v.Attachment == client.VolumeDetaching:
		if failed == "" {
			v.Attachment, v.VM, v.VMName, v.Target = "", "", "", ""
		}
	case v.FileGiB > 0 && v.FileGiB < v.SizeGiB && failed == "":
		v.FileGiB = v.SizeGiB
	}
	return false
}

func (f *fakeAPI) removeVolume(v *client.Volume) {
	for i := range f.volumes.vols {
		if f.volumes.vols[i] == v {
			f.volumes.vols = append(f.volumes.vols[:i], f.volumes.vols[i+1:]...)
			return
		}
	}
}

// changed marks v changed at a new index: the host's work starts over.
func (f *fakeAPI) changed(v *client.Volume) {
	f.index++
	f.volumes.reads[v.ID] = 0
	v.Error = ""
}

func (f *fakeAPI) resizeVolume(r *http.Request) (any, int, error) {
	v, err := f.findVolume(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	var req client.VolumeResize
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	if req.SizeGiB < v.SizeGiB {
		return nil, 0, &apiErr{400, "invalid", fmt.Sprintf("volume %s is %d GiB: a volume only grows (its file system would lose its end), asked %d", v.Name, v.SizeGiB, req.SizeGiB)}
	}
	v.SizeGiB = req.SizeGiB
	f.changed(v)
	return *v, 202, nil
}

func (f *fakeAPI) deleteVolume(r *http.Request) (any, int, error) {
	v, err := f.findVolume(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	if v.VM != "" {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("volume %s is attached to vm %s; detach it first", v.Name, v.VMName)}
	}
	f.changed(v)
	if v.FileGiB == 0 && v.Host == "" {
		f.removeVolume(v)
		return *v, 200, nil
	}
	v.Deleting = true
	return *v, 202, nil
}

func (f *fakeAPI) attachVolume(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	var req client.AttachRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	v, err := f.findVolume(req.Volume)
	if err != nil {
		return nil, 0, err
	}
	if v.VM != "" {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("volume %s is attached to vm %s; detach it first", v.Name, v.VMName)}
	}
	f.changed(v)
	v.VM, v.VMName, v.Target, v.Host, v.Attachment = vm.ID, vm.Name, "vdc", "n-a", client.VolumeAttached
	if vm.State == client.StateRunning {
		v.Attachment = client.VolumeAttaching
	}
	return *v, 202, nil
}

func (f *fakeAPI) detachVolume(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	v, err := f.findVolume(r.PathValue("volume"))
	if err != nil {
		return nil, 0, err
	}
	if v.VM != vm.ID {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("volume %s is not attached to vm %s", v.Name, vm.Name)}
	}
	f.changed(v)
	if vm.State == client.StateRunning {
		v.Attachment = client.VolumeDetaching
	} else {
		v.Attachment, v.VM, v.VMName, v.Target = "", "", "", ""
	}
	return *v, 202, nil
}

func (f *fakeAPI) vmVolumes(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	out := []client.Volume{}
	for _, v := range f.volumes.vols {
		if v.VM == vm.ID {
			out = append(out, *v)
		}
	}
	return out, 200, nil
}

// volumeWorld is a fake with a running VM web, a stopped VM db, and a
// volume data-1 never attached.
func volumeWorld(t *testing.T) *fakeAPI {
	f := newFakeAPI(t)
	f.vms = []*client.VM{
		{ID: "vm-1", Name: "web", State: client.StateRunning, DesiredState: client.StateRunning},
		{ID: "vm-2", Name: "db", State: client.StateStopped, DesiredState: client.StateStopped},
	}
	f.volumes.vols = []*client.Volume{{ID: "vol-1", Project: "default", Name: "data-1", Pool: "default", Format: "qcow2", SizeGiB: 10,
		CreatedAt: fakeVolumeTime, UpdatedAt: fakeVolumeTime}}
	return f
}

func TestVolumeCreate_SizeAndPool(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "volume", "create", "data-1", "--size", "1T", "--pool", "nfs")
	if code != exitOK || stdout != "Created volume data-1 (vol-1): 1024GiB in pool nfs.\n" {
		t.Fatalf("create: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"name": "data-1", "size_gib": 1024.0, "pool": "nfs"}; !reflect.DeepEqual(body, want) {
		t.Errorf("body %v, want %v", body, want)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "volume", "create", "data-2", "--size", "5")
	var v client.Volume
	if err := json.Unmarshal([]byte(stdout), &v); code != exitOK || err != nil || v.SizeGiB != 5 || v.Pool != "default" {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
	for _, args := range [][]string{{"volume", "create", "x"}, {"volume", "create", "x", "--size", "0"}, {"volume", "create", "x", "--size", "512M"}, {"volume", "create"}} {
		if code, _, stderr := runCLI(t, f.env(), args...); code != exitUsage {
			t.Errorf("%v: code %d (stderr %q), want %d", args, code, stderr, exitUsage)
		}
	}
	code, _, stderr = runCLI(t, f.env(), "volume", "create", "data-1", "--size", "1")
	if code != exitError || !strings.Contains(stderr, "already has a volume named data-1") {
		t.Errorf("taken name: code %d, stderr %q", code, stderr)
	}
}

func TestVolumeList_Table(t *testing.T) {
	f := volumeWorld(t)
	f.volumes.vols = append(f.volumes.vols,
		&client.Volume{ID: "vol-2", Project: "default", Name: "logs", Pool: "nfs", SizeGiB: 20, FileGiB: 10, Host: "n-a-0123456789",
			VM: "vm-1", VMName: "web", Target: "vdc", Attachment: "attached"},
		&client.Volume{ID: "vol-3", Project: "default", Name: "old", Pool: "default", SizeGiB: 1, FileGiB: 1, Host: "n-b", Deleting: true, Error: "permission denied"})
	code, stdout, stderr := runCLI(t, f.env(), "volume", "list")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME     PROJECT   SIZE    POOL      STATE              VM    TARGET   HOST\n" +
		"data-1   default   10GiB   default   detached           -     -        -\n" +
		"logs     default   20GiB   nfs       attached,growing   web   vdc      n-a-0123\n" +
		"old      default   1GiB    default   deleting,error     -     -        n-b\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	if code, _, _ = runCLI(t, f.env(), "volume", "ls", "--all-projects"); code != exitOK {
		t.Fatalf("--all-projects: code %d", code)
	}
	if r := f.requests(); r[len(r)-1].Query != "all-projects=true" {
		t.Errorf("--all-projects query = %q", r[len(r)-1].Query)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "volume", "list")
	var vols []client.Volume
	if err := json.Unmarshal([]byte(stdout), &vols); code != exitOK || err != nil || len(vols) != 3 {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
}

func TestVolumeShow(t *testing.T) {
	f := volumeWorld(t)
	f.nodes = []client.Node{{ID: "n-a", Name: "node-a"}}
	f.volumes.vols[0].VM, f.volumes.vols[0].VMName, f.volumes.vols[0].Target = "vm-1", "web", "vdc"
	f.volumes.vols[0].Attachment, f.volumes.vols[0].Host, f.volumes.vols[0].FileGiB = "attached", "n-a", 10
	code, stdout, stderr := runCLI(t, f.env(), "volume", "show", "data-1")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"ID:       vol-1\n", "State:    attached\n", "Size:     10GiB\n", "File:     10GiB\n",
		"Host:     node-a (n-a)\n", "VM:       web (vm-1)\n", "Target:   vdc\n", "Format:   qcow2\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("volume show lacks %q:\n%s", w, stdout)
		}
	}
	code, _, stderr = runCLI(t, f.env(), "volume", "show", "nope")
	if code != exitError || !strings.Contains(stderr, `volume "nope" not found`) {
		t.Errorf("unknown volume: code %d, stderr %q", code, stderr)
	}
}

func TestVolumeAttach_WaitsForTheHost(t *testing.T) {
	f := volumeWorld(t)
	code, stdout, stderr := runCLI(t, f.env(), "volume", "attach", "data-1", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "attaching data-1: running\nAttached volume data-1 to vm web as vdc.\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 4 || reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/vms/web/volumes" || reqs[0].Body != `{"volume":"data-1"}` {
		t.Fatalf("requests %+v: want the attach, 2 questions about its operation and the volume", reqs)
	}
	// Every read waits for the attach's index (101), so any node answers
	// it; the operation's ID is the volume's.
	for i, want := range []string{"/api/v1/operations/vol-1?index=101&wait=1s", "/api/v1/operations/vol-1?index=101&wait=1s", "/api/v1/volumes/vol-1?index=101"} {
		if r := reqs[i+1]; r.Method != "GET" || r.Path+"?"+r.Query != want {
			t.Errorf("read %d = %+v, want GET %s", i+1, r, want)
		}
	}
	// Attached to a stopped VM: done at once, no read.
	f.volumes.vols = append(f.volumes.vols, &client.Volume{ID: "vol-2", Name: "data-2", SizeGiB: 1})
	n := len(f.requests())
	code, stdout, _ = runCLI(t, f.env(), "volume", "attach", "data-2", "db")
	if code != exitOK || stdout != "Attached volume data-2 to vm db as vdc.\n" || len(f.requests()) != n+1 {
		t.Errorf("stopped vm: code %d, stdout %q, %d requests", code, stdout, len(f.requests())-n)
	}
	// Attached elsewhere: the server's refusal.
	code, _, stderr = runCLI(t, f.env(), "volume", "attach", "data-1", "db")
	if code != exitError || !strings.Contains(stderr, "attached to vm web; detach it first") {
		t.Errorf("attached elsewhere: code %d, stderr %q", code, stderr)
	}
}

func TestVolumeAttach_FailedExitsWithTheHostsError(t *testing.T) {
	f := volumeWorld(t)
	f.volumes.hostError = "qemu: no free PCI slot"
	code, stdout, stderr := runCLI(t, f.env(), "volume", "attach", "data-1", "web")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	if want := "Error: volume data-1 failed to attach: qemu: no free PCI slot\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "attaching data-1: running\n" {
		t.Errorf("stdout = %q", stdout)
	}
	// -o json prints the volume as its host left it, and still fails.
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "volume", "attach", "data-1", "web")
	var v client.Volume
	if err := json.Unmarshal([]byte(stdout), &v); code != exitError || err != nil || v.Attachment != "" || v.Error == "" {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
}

func TestVolumeAttach_NoWaitAndTimeout(t *testing.T) {
	f := volumeWorld(t)
	f.volumes.hostReads = 0 // the host never answers
	f.volumes.vols = append(f.volumes.vols,
		&client.Volume{ID: "vol-2", Name: "data-2", SizeGiB: 1},
		&client.Volume{ID: "vol-3", Name: "made", SizeGiB: 10, FileGiB: 10, Host: "n-a"})
	code, stdout, stderr := runCLI(t, f.env(), "volume", "attach", "data-1", "web", "--no-wait")
	if code != exitOK || stdout != "Volume data-1 is attaching; follow it with 'novacron volume show data-1'.\n" || len(f.requests()) != 1 {
		t.Fatalf("--no-wait: code %d, stdout %q, stderr %q, %d requests", code, stdout, stderr, len(f.requests()))
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "volume", "attach", "data-2", "web", "--no-wait")
	var v client.Volume
	if err := json.Unmarshal([]byte(stdout), &v); code != exitOK || err != nil || v.Attachment != client.VolumeAttaching {
		t.Errorf("-o json --no-wait: code %d, %v, %s", code, err, stdout)
	}
	code, _, stderr = runCLI(t, f.env(), "volume", "grow", "made", "--size", "20", "--timeout", "50ms")
	if code != exitError || !strings.Contains(stderr, "timed out after 50ms waiting for volume made's host (still growing); it goes on") {
		t.Errorf("timeout: code %d, stderr %q", code, stderr)
	}
	if code, _, _ = runCLI(t, f.env(), "volume", "attach", "x", "y", "--timeout", "0s"); code != exitUsage {
		t.Errorf("--timeout 0s: code %d, want %d", code, exitUsage)
	}
	if code, _, _ = runCLI(t, f.env(), "volume", "attach", "x"); code != exitUsage {
		t.Errorf("attach without a vm: code %d, want %d", code, exitUsage)
	}
}

func TestVolumeDetach_WaitsForTheHost(t *testing.T) {
	f := volumeWorld(t)
	v := f.volumes.vols[0]
	v.VM, v.VMName, v.Target, v.Attachment, v.Host, v.FileGiB = "vm-1", "web", "vdc", "attached", "n-a", 10
	code, stdout, stderr := runCLI(t, f.env(), "volume", "detach", "data-1", "web")
	if code != exitOK || stdout != "detaching data-1: running\nDetached volume data-1 from vm web.\n" {
		t.Fatalf("detach: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if r := f.requests()[0]; r.Method != "DELETE" || r.Path != "/api/v1/vms/web/volumes/data-1" {
		t.Errorf("detach request %+v", r)
	}
	// A guest that holds on to it: the host's error, and exit 1.
	v.VM, v.VMName, v.Target, v.Attachment = "vm-1", "web", "vdc", "attached"
	f.volumes.hostError = "the guest has not released the disk yet"
	code, _, stderr = runCLI(t, f.env(), "volume", "detach", "data-1", "web")
	if code != exitError || !strings.Contains(stderr, "volume data-1 is still detaching from vm web: the guest has not released the disk yet") {
		t.Errorf("failed detach: code %d, stderr %q", code, stderr)
	}
}

func TestVolumeGrow_WaitsForTheHost(t *testing.T) {
	f := volumeWorld(t)
	v := f.volumes.vols[0]
	// Never made: recorded, nothing to wait for.
	code, stdout, stderr := runCLI(t, f.env(), "volume", "grow", "data-1", "--size", "12G")
	if code != exitOK || stdout != "Volume data-1 is 12GiB (its file is made at that size when it first attaches).\n" || len(f.requests()) != 1 {
		t.Fatalf("blank grow: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if r := f.requests()[0]; r.Method != "PATCH" || r.Path != "/api/v1/volumes/data-1" || r.Body != `{"size_gib":12}` {
		t.Errorf("grow request %+v", r)
	}
	v.FileGiB, v.Host = 12, "n-a"
	code, stdout, stderr = runCLI(t, f.env(), "volume", "grow", "data-1", "--size", "20")
	if code != exitOK || stdout != "growing data-1: running\nVolume data-1 is 20GiB.\n" {
		t.Fatalf("grow: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "volume", "grow", "data-1", "--size", "10")
	if code != exitError || !strings.Contains(stderr, "a volume only grows") {
		t.Errorf("shrink: code %d, stderr %q", code, stderr)
	}
	f.volumes.hostError = "qemu-img: No space left on device"
	code, _, stderr = runCLI(t, f.env(), "volume", "grow", "data-1", "--size", "30")
	if code != exitError || !strings.Contains(stderr, "volume data-1 failed to grow: qemu-img: No space left on device") {
		t.Errorf("failed grow: code %d, stderr %q", code, stderr)
	}
	if code, _, _ = runCLI(t, f.env(), "volume", "grow", "data-1"); code != exitUsage {
		t.Errorf("grow without --size: code %d, want %d", code, exitUsage)
	}
}

func TestVolumeDelete_WaitsUntilGone(t *testing.T) {
	f := volumeWorld(t)
	// Never made: gone at once.
	code, stdout, stderr := runCLI(t, f.env(), "volume", "delete", "data-1")
	if code != exitOK || stdout != "Deleted volume data-1 (vol-1).\n" || len(f.requests()) != 1 {
		t.Fatalf("blank delete: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	f.volumes.vols = []*client.Volume{{ID: "vol-2", Name: "logs", SizeGiB: 5, FileGiB: 5, Host: "n-a"}}
	code, stdout, stderr = runCLI(t, f.env(), "volume", "rm", "logs")
	if code != exitOK || stdout != "deleting logs: running\nDeleted volume logs (vol-2).\n" {
		t.Fatalf("delete: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if len(f.volumes.vols) != 0 {
		t.Errorf("volumes left: %+v", f.volumes.vols)
	}
	f.volumes.vols = []*client.Volume{{ID: "vol-3", Name: "held", SizeGiB: 5, FileGiB: 5, Host: "n-a"}}
	f.volumes.hostError = "permission denied"
	code, _, stderr = runCLI(t, f.env(), "volume", "delete", "held")
	if code != exitError || !strings.Contains(stderr, "volume held is still deleting: its host could not remove it: permission denied") {
		t.Errorf("failed delete: code %d, stderr %q", code, stderr)
	}
}

// The --project flag reaches the volume routes as ?project=, as for images.
func TestVolume_Project(t *testing.T) {
	f := volumeWorld(t)
	if code, _, stderr := runCLI(t, f.env(), "--project", "prod", "volume", "attach", "data-1", "db"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if q := f.requests()[0].Query; q != "project=prod" {
		t.Errorf("query = %q, want project=prod", q)
	}
}

// `vm show` lists a VM's volumes on one line, with those still pending.
func TestVMShow_Volumes(t *testing.T) {
	f := volumeWorld(t)
	f.vms[0].Volumes = []client.VMVolume{{ID: "vol-1", Name: "data-1", Target: "vdc", Attachment: "attached", SizeGiB: 20},
		{ID: "vol-2", Name: "logs", Target: "vdd", Attachment: "attaching", SizeGiB: 5}}
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "Volumes:        data-1 on vdc (20GiB), logs on vdd (5GiB, attaching)\n"; !strings.Contains(stdout, want) {
		t.Errorf("vm show lacks %q:\n%s", want, stdout)
	}
	if _, stdout, _ = runCLI(t, f.env(), "vm", "show", "db"); strings.Contains(stdout, "Volumes:") {
		t.Errorf("a vm without volumes shows a Volumes line:\n%s", stdout)
	}
}
