package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// fakeSnapshots is the fake API's VM snapshots (in each VM's Snapshots). A
// snapshot action is done at the snapshot's hostReads-th read after it, or
// fails with hostError; hostReads 0 leaves it pending.
type fakeSnapshots struct {
	hostReads int
	hostError string
	reads     map[string]int
}

// routeSnapshots adds the fake's snapshot routes to mux.
func (f *fakeAPI) routeSnapshots(mux *http.ServeMux) {
	f.snapshots.reads = map[string]int{}
	f.snapshots.hostReads = 2
	mux.HandleFunc("GET /api/v1/vms/{id}/snapshots", f.handle(f.listSnapshots))
	mux.HandleFunc("POST /api/v1/vms/{id}/snapshots", f.handle(f.createSnapshot))
	mux.HandleFunc("GET /api/v1/vms/{id}/snapshots/{name}", f.handle(f.getSnapshot))
	mux.HandleFunc("POST /api/v1/vms/{id}/snapshots/{name}/revert", f.handle(f.revertSnapshot))
	mux.HandleFunc("DELETE /api/v1/vms/{id}/snapshots/{name}", f.handle(f.deleteSnapshot))
}

var fakeSnapshotTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// findSnapshot finds the VM and snapshot a request names.
func (f *fakeAPI) findSnapshot(r *http.Request) (*client.VM, *client.VMSnapshot, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	name := r.PathValue("name")
	for i := range vm.Snapshots {
		if vm.Snapshots[i].Name == name {
			return vm, &vm.Snapshots[i], nil
		}
	}
	return vm, nil, &apiErr{404, "not_found", fmt.Sprintf("vm %s has no snapshot %q", vm.Name, name)}
}

// snapshotAction starts an action on sn at a new index: the host's work
// starts over.
func (f *fakeAPI) snapshotAction(vm *client.VM, sn *client.VMSnapshot, state string) error {
	for _, other := range vm.Snapshots {
		if other.State == client.SnapshotCreating || other.State == client.SnapshotReverting || other.State == client.SnapshotDeleting {
			return &apiErr{409, "conflict", fmt.Sprintf("snapshot %s of vm %s is %s; try again once that is done", other.Name, vm.Name, other.State)}
		}
	}
	f.index++
	f.snapshots.reads[vm.ID+"/"+sn.Name] = 0
	sn.State, sn.Error, sn.UpdatedAt = state, "", fakeSnapshotTime
	return nil
}

func (f *fakeAPI) listSnapshots(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	return append([]client.VMSnapshot{}, vm.Snapshots...), 200, nil
}

func (f *fakeAPI) createSnapshot(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	var req client.SnapshotRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	if slices.ContainsFunc(vm.Snapshots, func(sn client.VMSnapshot) bool { return sn.Name == req.Name }) {
		return nil, 0, &apiErr{409, "conflict", fmt.Sprintf("vm %s already has a snapshot named %s", vm.Name, req.Name)}
	}
	if req.Memory && vm.State != client.StateRunning {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("vm %s is %s: only a running or paused guest has a memory state to snapshot", vm.Name, vm.State)}
	}
	sn := client.VMSnapshot{Name: req.Name, Memory: req.Memory, CreatedAt: fakeSnapshotTime}
	if err := f.snapshotAction(vm, &sn, client.SnapshotCreating); err != nil {
		return nil, 0, err
	}
	vm.Snapshots = append(vm.Snapshots, sn)
	return sn, 202, nil
}

// getSnapshot answers a snapshot, after the host's work is done when its
// time has come.
func (f *fakeAPI) getSnapshot(r *http.Request) (any, int, error) {
	vm, sn, err := f.findSnapshot(r)
	if err != nil {
		return nil, 0, err
	}
	name := sn.Name
	if gone := f.advanceSnapshot(vm, sn); gone {
		return nil, 0, &apiErr{404, "not_found", fmt.Sprintf("vm %s has no snapshot %q", vm.Name, name)}
	}
	return *sn, 200, nil
}

// advanceSnapshot counts a read of sn (or of its operation): at the
// hostReads-th since its last action the host has done it (or failed with
// hostError); gone says a deletion removed it.
func (f *fakeAPI) advanceSnapshot(vm *client.VM, sn *client.VMSnapshot) (gone bool) {
	key := vm.ID + "/" + sn.Name
	f.snapshots.reads[key]++
	if f.snapshots.hostReads == 0 || f.snapshots.reads[key] < f.snapshots.hostReads {
		return false
	}
	failed := f.snapshots.hostError
	switch sn.State {
	case client.SnapshotCreating:
		sn.State, sn.Error = client.SnapshotReady, failed
		if failed != "" {
			sn.State = client.SnapshotFailed
		}
	case client.SnapshotReverting:
		sn.State, sn.Error = client.SnapshotReady, failed
	case client.SnapshotDeleting:
		if failed == "" {
			name := sn.Name
			vm.Snapshots = slices.DeleteFunc(vm.Snapshots, func(s client.VMSnapshot) bool { return s.Name == name })
			return true
		}
		sn.State, sn.Error = client.SnapshotReady, failed
	}
	return false
}

func (f *fakeAPI) revertSnapshot(r *http.Request) (any, int, error) {
	vm, sn, err := f.findSnapshot(r)
	if err != nil {
		return nil, 0, err
	}
	if sn.State == client.SnapshotFailed {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("snapshot %s of vm %s is failed, not ready", sn.Name, vm.Name)}
	}
	if err := f.snapshotAction(vm, sn, client.SnapshotReverting); err != nil {
		return nil, 0, err
	}
	return *sn, 202, nil
}

func (f *fakeAPI) deleteSnapshot(r *http.Request) (any, int, error) {
	vm, sn, err := f.findSnapshot(r)
	if err != nil {
		return nil, 0, err
	}
	if sn.State == client.SnapshotFailed {
		f.index++
		was, name := *sn, sn.Name
		vm.Snapshots = slices.DeleteFunc(vm.Snapshots, func(s client.VMSnapshot) bool { return s.Name == name })
		return was, 200, nil
	}
	if err := f.snapshotAction(vm, sn, client.SnapshotDeleting); err != nil {
		return nil, 0, err
	}
	return *sn, 202, nil
}

// snapshotWorld is a fake with a running VM web that has a ready snapshot
// s1, and a stopped VM db.
func snapshotWorld(t *testing.T) *fakeAPI {
	f := newFakeAPI(t)
	f.vms = []*client.VM{
		{ID: "vm-1", Name: "web", State: client.StateRunning, DesiredState: client.StateRunning,
			Snapshots: []client.VMSnapshot{{Name: "s1", State: client.SnapshotReady, CreatedAt: fakeSnapshotTime, UpdatedAt: fakeSnapshotTime}}},
		{ID: "vm-2", Name: "db", State: client.StateStopped, DesiredState: client.StateStopped},
	}
	return f
}

func TestVMSnapshotCreate_WaitsForTheHost(t *testing.T) {
	f := snapshotWorld(t)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "create", "web", "before-upgrade", "--memory")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "creating snapshot before-upgrade of web: running\nCreated snapshot before-upgrade of vm web (disks and memory).\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 5 || reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/vms/web/snapshots" || reqs[0].Body != `{"name":"before-upgrade","memory":true}` {
		t.Fatalf("requests %+v: want the create, the VM, 2 questions about the operation and the snapshot", reqs)
	}
	// Every read waits for the create's index (101), so any node answers
	// it; the operation's ID is the VM's ID and the snapshot's name.
	for i, want := range []string{"/api/v1/vms/web?index=101", "/api/v1/operations/vm-1:before-upgrade?index=101&wait=1s",
		"/api/v1/operations/vm-1:before-upgrade?index=101&wait=1s", "/api/v1/vms/web/snapshots/before-upgrade?index=101"} {
		if r := reqs[i+1]; r.Method != "GET" || r.Path+"?"+r.Query != want {
			t.Errorf("read %d = %+v, want GET %s", i+1, r, want)
		}
	}
	// Without --memory, of a stopped VM; -o json prints the snapshot taken.
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "vm", "snapshot", "create", "db", "nightly")
	var sn client.VMSnapshot
	if err := json.Unmarshal([]byte(stdout), &sn); code != exitOK || err != nil || sn.State != client.SnapshotReady || sn.Memory {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
	if r := f.requests(); r[5].Body != `{"name":"nightly","memory":false}` {
		t.Errorf("create body %q", r[5].Body)
	}
	// The server's refusals.
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "create", "web", "s1")
	if code != exitError || !strings.Contains(stderr, "vm web already has a snapshot named s1") {
		t.Errorf("taken name: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "create", "db", "m", "--memory")
	if code != exitError || !strings.Contains(stderr, "only a running or paused guest") {
		t.Errorf("memory of a stopped vm: code %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{{"vm", "snapshot", "create", "web"}, {"vm", "snapshot", "create"}, {"vm", "snapshot", "create", "web", "x", "--timeout", "0s"}} {
		if code, _, stderr := runCLI(t, f.env(), args...); code != exitUsage {
			t.Errorf("%v: code %d (stderr %q), want %d", args, code, stderr, exitUsage)
		}
	}
}

func TestVMSnapshotCreate_FailedExitsWithTheHostsError(t *testing.T) {
	f := snapshotWorld(t)
	f.snapshots.hostError = "disk vdc does not support snapshots"
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "create", "web", "s2")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	if want := "Error: snapshot s2 of vm web failed: disk vdc does not support snapshots\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "creating snapshot s2 of web: running\n" {
		t.Errorf("stdout = %q", stdout)
	}
	// -o json prints the snapshot as the host left it, and still fails.
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "vm", "snapshot", "create", "web", "s3")
	var sn client.VMSnapshot
	if err := json.Unmarshal([]byte(stdout), &sn); code != exitError || err != nil || sn.State != client.SnapshotFailed || sn.Error == "" {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
	// A failed snapshot is deleted at once: no read.
	n := len(f.requests())
	code, stdout, _ = runCLI(t, f.env(), "vm", "snapshot", "delete", "web", "s2")
	if code != exitOK || stdout != "Deleted snapshot s2 of vm web.\n" || len(f.requests()) != n+1 {
		t.Errorf("delete of a failed one: code %d, stdout %q, %d requests", code, stdout, len(f.requests())-n)
	}
}

func TestVMSnapshot_NoWaitAndTimeout(t *testing.T) {
	f := snapshotWorld(t)
	f.snapshots.hostReads = 0 // the host never answers
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "revert", "web", "s1", "--no-wait")
	if code != exitOK || stdout != "Snapshot s1 of vm web is reverting; follow it with 'novacron vm snapshot list web'.\n" || len(f.requests()) != 1 {
		t.Fatalf("--no-wait: code %d, stdout %q, stderr %q, %d requests", code, stdout, stderr, len(f.requests()))
	}
	if r := f.requests()[0]; r.Method != "POST" || r.Path != "/api/v1/vms/web/snapshots/s1/revert" || r.Body != "" {
		t.Errorf("revert request %+v", r)
	}
	// One action at a time: the server says so.
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "create", "web", "s2")
	if code != exitError || !strings.Contains(stderr, "snapshot s1 of vm web is reverting") {
		t.Errorf("second action: code %d, stderr %q", code, stderr)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "vm", "snapshot", "create", "db", "s1", "--no-wait")
	var sn client.VMSnapshot
	if err := json.Unmarshal([]byte(stdout), &sn); code != exitOK || err != nil || sn.State != client.SnapshotCreating {
		t.Errorf("-o json --no-wait: code %d, %v, %s", code, err, stdout)
	}
	f.vms[1].Snapshots[0].State = client.SnapshotReady
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "delete", "db", "s1", "--timeout", "50ms")
	if code != exitError || !strings.Contains(stderr, "timed out after 50ms waiting for vm db's host (snapshot s1 still deleting); it goes on: follow it with 'novacron vm snapshot list db'") {
		t.Errorf("timeout: code %d, stderr %q", code, stderr)
	}
}

func TestVMSnapshotRevert_WaitsForTheHost(t *testing.T) {
	f := snapshotWorld(t)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "revert", "web", "s1")
	if code != exitOK || stdout != "reverting snapshot s1 of web: running\nReverted vm web to snapshot s1.\n" {
		t.Fatalf("revert: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	f.snapshots.hostError = "libvirt: revert failed"
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "revert", "web", "s1")
	if code != exitError || !strings.Contains(stderr, "vm web was not reverted to snapshot s1: libvirt: revert failed") {
		t.Errorf("failed revert: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "vm", "snapshot", "revert", "web", "nope")
	if code != exitError || !strings.Contains(stderr, `vm web has no snapshot "nope"`) {
		t.Errorf("unknown snapshot: code %d, stderr %q", code, stderr)
	}
}

func TestVMSnapshotDelete_WaitsUntilGone(t *testing.T) {
	f := snapshotWorld(t)
	f.snapshots.hostError = "permission denied"
	code, _, stderr := runCLI(t, f.env(), "vm", "snapshot", "delete", "web", "s1")
	if code != exitError || !strings.Contains(stderr, "snapshot s1 of vm web is not deleted: its host could not remove it: permission denied") {
		t.Errorf("failed delete: code %d, stderr %q", code, stderr)
	}
	f.snapshots.hostError = ""
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "rm", "web", "s1")
	if code != exitOK || stdout != "deleting snapshot s1 of web: running\nDeleted snapshot s1 of vm web.\n" {
		t.Fatalf("delete: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if r := f.requests(); r[len(r)-5].Method != "DELETE" || r[len(r)-5].Path != "/api/v1/vms/web/snapshots/s1" {
		t.Errorf("delete request %+v", r[len(r)-5])
	}
	if len(f.vms[0].Snapshots) != 0 {
		t.Errorf("snapshots left: %+v", f.vms[0].Snapshots)
	}
}

func TestVMSnapshotList_Table(t *testing.T) {
	f := snapshotWorld(t)
	f.vms[0].Snapshots = append(f.vms[0].Snapshots,
		client.VMSnapshot{Name: "live", Memory: true, State: client.SnapshotCreating, CreatedAt: fakeSnapshotTime},
		client.VMSnapshot{Name: "broken", State: client.SnapshotFailed, Error: "disk vdc does not support snapshots", CreatedAt: fakeSnapshotTime})
	code, stdout, stderr := runCLI(t, f.env(), "vm", "snapshot", "list", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME     STATE      MEMORY   CREATED                ERROR\n" +
		"s1       ready      no       2025-01-02T03:04:05Z   -\n" +
		"live     creating   yes      2025-01-02T03:04:05Z   -\n" +
		"broken   failed     no       2025-01-02T03:04:05Z   disk vdc does not support snapshots\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "vm", "snapshot", "ls", "db")
	if code != exitOK || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("-o json of none: code %d, %q", code, stdout)
	}
	if code, _, stderr = runCLI(t, f.env(), "--project", "prod", "vm", "snapshot", "list", "web"); code != exitOK {
		t.Fatalf("--project: code %d, stderr %q", code, stderr)
	}
	if r := f.requests(); r[len(r)-1].Query != "project=prod" {
		t.Errorf("query = %q, want project=prod", r[len(r)-1].Query)
	}
}

// `vm show` lists a VM's snapshots on one line, oldest first.
func TestVMShow_Snapshots(t *testing.T) {
	f := snapshotWorld(t)
	f.vms[0].Snapshots = append(f.vms[0].Snapshots, client.VMSnapshot{Name: "live", Memory: true, State: client.SnapshotCreating},
		client.VMSnapshot{Name: "warm", Memory: true, State: client.SnapshotReady})
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "Snapshots:      s1, live (memory, creating), warm (memory)\n"; !strings.Contains(stdout, want) {
		t.Errorf("vm show lacks %q:\n%s", want, stdout)
	}
	if _, stdout, _ = runCLI(t, f.env(), "vm", "show", "db"); strings.Contains(stdout, "Snapshots:") {
		t.Errorf("a vm without snapshots shows a Snapshots line:\n%s", stdout)
	}
}
