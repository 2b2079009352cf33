package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

func TestVMCreate_SendsRequest(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "create", "web-1", "--vcpus", "2", "--memory", "1024",
		"--disk", "10", "--label", "tier=web", "--label", "env=a=b", "--kernel", "/k", "--initrd", "/i",
		"--cmdline", "console=ttyS0", "--no-wait")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "Created VM web-1 (vm-1), state pending.\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/vms" {
		t.Fatalf("requests = %+v", reqs)
	}
	var got client.VMRequest
	if err := json.Unmarshal([]byte(reqs[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := client.VMRequest{Name: "web-1", VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10,
		Boot:   &client.BootSource{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0"},
		Labels: map[string]string{"tier": "web", "env": "a=b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request = %+v, want %+v", got, want)
	}
}

func TestVMCreate_DefaultsAndBootDisk(t *testing.T) {
	f := newFakeAPI(t)
	if code, _, stderr := runCLI(t, f.env(), "vm", "create", "db", "--boot-disk", "/img/db.qcow2"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "db", "vcpus": 1.0, "memory_mib": 256.0, "disk_gib": 1.0,
		"boot": map[string]any{"disk": "/img/db.qcow2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}
}

// vm create waits by default: it follows the VM's creation (its
// operation) until a host has reported the VM, then reads the VM.
func TestVMCreate_WaitsUntilRunning(t *testing.T) {
	f := newFakeAPI(t)
	f.readsToFinal = 3
	code, stdout, stderr := runCLI(t, f.env(), "vm", "create", "web-1")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "Created VM web-1 (vm-1); waiting for it to run...\ncreating web-1: pending\nVM web-1 is running on node-a (n-a).\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 5 {
		t.Fatalf("saw %d requests, want create, 3 questions about its operation and the VM: %+v", len(reqs), reqs)
	}
	for _, r := range reqs[1:4] {
		// Every read waits for the create's index (101), so any node answers it.
		if r.Method != "GET" || r.Path != "/api/v1/operations/vm-1" || r.Query != "index=101&wait=1s" {
			t.Errorf("poll = %+v, want GET /api/v1/operations/vm-1?index=101&wait=1s", r)
		}
	}
	if r := reqs[4]; r.Method != "GET" || r.Path != "/api/v1/vms/vm-1" || r.Query != "index=101" {
		t.Errorf("last read = %+v, want GET /api/v1/vms/vm-1?index=101", r)
	}
	// --wait, the old way to ask for it, is still accepted.
	if code, stdout, _ := runCLI(t, f.env(), "vm", "create", "web-2", "--wait"); code != exitOK || !strings.HasSuffix(stdout, "VM web-2 is running on node-a (n-a).\n") {
		t.Errorf("--wait: code %d, stdout %q", code, stdout)
	}
}

// On a terminal the creation shows as one line redrawn in place.
func TestVMCreate_TerminalRedrawsOneLine(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLIOn(t, true, f.env(), "vm", "create", "web-1")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	line := "\r\x1b[Kcreating web-1 [" + strings.Repeat("-", 30) + "]   0% pending 0s\n"
	if want := "Created VM web-1 (vm-1); waiting for it to run...\n" + line + "VM web-1 is running on node-a (n-a).\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
}

func TestVMCreate_WaitJSONPrintsFinalVM(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "-o", "json", "vm", "create", "web-1", "--wait")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var vm client.VM
	if err := json.Unmarshal([]byte(stdout), &vm); err != nil {
		t.Fatalf("stdout is not one JSON VM: %v\n%s", err, stdout)
	}
	if vm.State != client.StateRunning || vm.NodeName != "node-a" {
		t.Errorf("vm = %+v, want running on node-a", vm)
	}
}

func TestVMCreate_WaitFailsOnErrorState(t *testing.T) {
	f := newFakeAPI(t)
	f.vmFinal, f.vmFinalError = client.StateError, "kernel /k not found"
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "web-1", "--kernel", "/k", "--wait")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	if want := "Error: vm web-1 is in the error state: kernel /k not found\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

// A VM that fits on no node fails --wait at once, with the reason, instead
// of waiting out the timeout.
func TestVMCreate_WaitFailsAtOnceWhenNoNodeFits(t *testing.T) {
	f := newFakeAPI(t)
	f.vmFinal, f.vmPendingReason = "", "no node has room for 256MiB"
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "web-1", "--wait", "--timeout", "1h")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	want := "Error: vm web-1 is pending: no node has room for 256MiB; it stays pending until a node fits (novacron vm show web-1)\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

func TestVMCreate_WaitTimesOut(t *testing.T) {
	f := newFakeAPI(t)
	f.vmFinal = "" // stays pending, no decision yet
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "web-1", "--wait", "--timeout", "100ms")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	want := "Error: timed out after 100ms waiting for vm web-1 to run (state: pending)\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if n := len(f.requests()); n < 3 {
		t.Errorf("only %d requests: the wait did not poll", n)
	}
}

func TestVMCreate_ConflictFails(t *testing.T) {
	f := newFakeAPI(t)
	runCLI(t, f.env(), "vm", "create", "web-1", "--no-wait")
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "web-1")
	if code != exitError || stderr != "Error: vm name \"web-1\" is already taken (HTTP 409 conflict)\n" {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

// seedVMs gives the fake two VMs, out of name order.
func seedVMs(f *fakeAPI) {
	f.vms = []*client.VM{
		{ID: "vm-2", Name: "web", VCPUs: 2, MemoryMiB: 1536, DiskGiB: 5, DesiredState: "running", State: "running",
			Node: "n-a", NodeName: "node-a", Generation: 3, Labels: map[string]string{"tier": "web", "app": "shop"},
			Boot: &client.BootSource{Disk: "/img/web.qcow2"}},
		{ID: "vm-1", Name: "db", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 20, DesiredState: "running", State: "pending"},
	}
}

func TestVMList_Table(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "list")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME   ID     STATE     DESIRED   NODE     VCPUS   MEMORY\n" +
		"db     vm-1   pending   running   -        4       4GiB\n" +
		"web    vm-2   running   running   node-a   2       1.5GiB\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
}

func TestVMList_FiltersAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "list", "--node", "node-a", "--state", "running", "-o", "json")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if q := f.requests()[0].Query; q != "node=node-a&state=running" {
		t.Errorf("query = %q", q)
	}
	var vms []client.VM
	if err := json.Unmarshal([]byte(stdout), &vms); err != nil {
		t.Fatalf("stdout is not a JSON list: %v\n%s", err, stdout)
	}
	if len(vms) != 1 || vms[0].ID != "vm-2" {
		t.Errorf("vms = %+v", vms)
	}
	if !strings.Contains(stdout, "\n  {\n    \"id\": \"vm-2\",") {
		t.Errorf("JSON is not indented:\n%s", stdout)
	}

	_, stdout, _ = runCLI(t, f.env(), "vm", "list", "--state", "paused", "-o", "json")
	if stdout != "[]\n" {
		t.Errorf("empty list = %q, want []", stdout)
	}
}

func TestVMShow_Fields(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"ID:             vm-2\n", "State:          running\n", "Node:           node-a (n-a)\n",
		"Memory:         1.5GiB\n", "Boot:           disk=\"/img/web.qcow2\"\n", "Placement:      -\n",
		"Labels:\n  app=shop\n  tier=web\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("vm show lacks %q:\n%s", want, stdout)
		}
	}
}

func TestVMActions_PostAndReport(t *testing.T) {
	for _, tt := range []struct{ action, desired string }{
		{"start", "running"}, {"stop", "stopped"}, {"restart", "running"}, {"pause", "paused"}, {"resume", "running"},
	} {
		t.Run(tt.action, func(t *testing.T) {
			f := newFakeAPI(t)
			seedVMs(f)
			code, stdout, stderr := runCLI(t, f.env(), "vm", tt.action, "web")
			if code != exitOK {
				t.Fatalf("code %d, stderr %q", code, stderr)
			}
			r := f.requests()[0]
			if r.Method != "POST" || r.Path != "/api/v1/vms/web/"+tt.action {
				t.Errorf("request = %s %s", r.Method, r.Path)
			}
			want := "VM web: " + tt.action + " requested (desired state " + tt.desired + ", state running).\n"
			if stdout != want {
				t.Errorf("stdout = %q, want %q", stdout, want)
			}
		})
	}
}

func TestVMDelete_RemovesAndReports(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "delete", "db")
	if code != exitOK || stdout != "Deleted VM db (vm-1).\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "vm", "delete", "db")
	if code != exitError || !strings.Contains(stderr, "not found (HTTP 404 not_found)") {
		t.Errorf("second delete: code %d, stderr %q", code, stderr)
	}
}

// A create's answer names the node a VM is scheduled on, or why it is pending.
func TestCreatedState_SaysWhereOrWhyNot(t *testing.T) {
	for _, c := range []struct {
		vm   client.VM
		want string
	}{
		{client.VM{State: client.StateScheduled, Node: "n-a", NodeName: "node-a"}, "scheduled on node-a"},
		{client.VM{State: client.StateScheduled, Node: "n-a"}, "scheduled on n-a"},
		{client.VM{State: client.StatePending, PlacementReason: "no node fits: node-a: 100 MiB free, needs 256"},
			"pending: no node fits: node-a: 100 MiB free, needs 256; it stays pending until a node fits"},
		{client.VM{State: client.StatePending}, "pending"},
	} {
		if got := createdState(&c.vm); got != c.want {
			t.Errorf("createdState(%+v) = %q, want %q", c.vm, got, c.want)
		}
	}
}
