package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

func TestCreateVM_Created(t *testing.T) {
	e := newTestEnv(t)
	req := validVM("web-1")
	req.Labels = map[string]string{"tier": "web"}
	req.Boot = &client.BootSource{Disk: "/var/lib/novacron/web.qcow2"}
	var vm client.VM
	a := e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, &vm)
	if vm.ID == "" || vm.Name != "web-1" || vm.VCPUs != 2 || vm.MemoryMiB != 1024 || vm.DiskGiB != 10 {
		t.Fatalf("created vm = %+v", vm)
	}
	if vm.State != "pending" || vm.DesiredState != "running" || vm.Node != "" || vm.NodeName != "" {
		t.Fatalf("new vm state/node = %q/%q/%q, want pending/running/\"\"", vm.State, vm.DesiredState, vm.Node)
	}
	if vm.Labels["tier"] != "web" || vm.Boot == nil || vm.Boot.Disk != req.Boot.Disk || vm.CreatedAt.IsZero() {
		t.Fatalf("labels/boot/created_at not carried: %+v", vm)
	}
	if got, want := a.header.Get(IndexHeader), strconv.FormatUint(e.fsm.AppliedIndex(), 10); got != want {
		t.Fatalf("index header %q, want the write's index %s", got, want)
	}
	if _, err := e.fsm.VM(vm.ID); err != nil {
		t.Fatalf("vm not in the FSM: %v", err)
	}
	if n := e.cluster.applies(); n != 1 {
		t.Fatalf("%d Apply calls, want 1", n)
	}
}

func TestCreateVM_PlacedByTheLeader(t *testing.T) {
	e := newTestEnv(t)
	e.cluster.mu.Lock()
	e.cluster.placeOn = e.nodes[1].ID
	e.cluster.mu.Unlock()
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expect(t, http.StatusCreated, &vm)
	if vm.State != "scheduled" || vm.Node != e.nodes[1].ID || vm.NodeName != "node-2" || vm.Generation != 1 || vm.PlacementReason == "" {
		t.Fatalf("placed vm = %+v", vm)
	}
}

func TestCreateVM_DuplicateNameConflict(t *testing.T) {
	e := newTestEnv(t)
	first := e.createVM("web-1")
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expectError(t, http.StatusConflict, "conflict", first.ID)
	if n := e.cluster.applies(); n != 1 {
		t.Fatalf("%d Apply calls, want 1: the duplicate must be refused before Raft", n)
	}
}

func TestCreateVM_BadInputNeverReachesApply(t *testing.T) {
	e := newTestEnv(t)
	long := strings.Repeat("a", fsm.MaxNameLen+1)
	huge := `{"name":"big","vcpus":1,"memory_mib":1,"disk_gib":1,"labels":{"k":"` + strings.Repeat("x", 1<<20) + `"}}`
	cases := []struct {
		name, body  string
		contentType string
		status      int
		code, msg   string
	}{
		{"malformed", `{"name": "web-1",}`, "", 400, "bad_json", "malformed JSON at offset"},
		{"truncated", `{"name": "web-1"`, "", 400, "bad_json", "malformed JSON"},
		{"unknown field", `{"name":"web-1","vcpus":1,"memory_mib":1,"disk_gib":1,"foo":1}`, "", 400, "bad_json", `unknown field "foo"`},
		{"wrong type", `{"name":"web-1","vcpus":"two"}`, "", 400, "bad_json", `field "vcpus": expected integer, got string`},
		{"fraction", `{"name":"web-1","vcpus":1.5}`, "", 400, "bad_json", `field "vcpus"`},
		{"nested type", `{"name":"web-1","boot":{"disk":7}}`, "", 400, "bad_json", `field "boot.disk": expected string, got number`},
		{"not an object", `[1,2]`, "", 400, "bad_json", "expected object, got array"},
		{"trailing data", `{"name":"web-1","vcpus":1,"memory_mib":1,"disk_gib":1} {}`, "", 400, "bad_json", "after the JSON object at offset 55"},
		{"empty body", ``, "", 400, "bad_json", "request body is required"},
		{"blank body", "  \n", "", 400, "bad_json", "request body is required"},
		{"negative vcpus", `{"name":"web-1","vcpus":-1,"memory_mib":1,"disk_gib":1}`, "", 400, "invalid", "vcpus must be between"},
		{"missing memory", `{"name":"web-1","vcpus":1,"disk_gib":1}`, "", 400, "invalid", "memory_mib"},
		{"missing name", `{"vcpus":1,"memory_mib":1,"disk_gib":1}`, "", 400, "invalid", "name is required"},
		{"long name", `{"name":"` + long + `","vcpus":1,"memory_mib":1,"disk_gib":1}`, "", 400, "invalid", "at most 63"},
		{"bad boot", `{"name":"web-1","vcpus":1,"memory_mib":1,"disk_gib":1,"boot":{}}`, "", 400, "invalid", "boot"},
		{"too large", huge, "", 413, "body_too_large", "larger than 1048576 bytes"},
		{"form body", `name=web-1`, "application/x-www-form-urlencoded", 400, "bad_json", "malformed JSON"},
		{"xml", `<vm name="web-1"/>`, "application/xml", 415, "unsupported_media_type", "application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/vms", strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+e.root)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			a := readAnswer(t, resp)
			a.expectError(t, c.status, c.code, c.msg)
		})
	}
	e.do("POST", "/api/v1/vms", e.root, nil).expectError(t, http.StatusBadRequest, "bad_json", "request body is required")
	// JSON with a charset parameter is still JSON.
	req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/vms", strings.NewReader(`{"name":"ok","vcpus":1,"memory_mib":1,"disk_gib":1}`))
	req.Header.Set("Authorization", "Bearer "+e.root)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAnswer(t, resp).expect(t, http.StatusCreated, nil)
	if n := e.cluster.applies(); n != 1 {
		t.Fatalf("%d Apply calls, want only the valid one", n)
	}
}

func TestGetVM_ByIDOrName(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	for _, ref := range []string{vm.ID, "web-1"} {
		var got client.VM
		e.do("GET", "/api/v1/vms/"+ref, e.root, nil).expect(t, http.StatusOK, &got)
		if got.ID != vm.ID {
			t.Fatalf("GET %s = %+v", ref, got)
		}
	}
	e.do("GET", "/api/v1/vms/nope", e.root, nil).expectError(t, http.StatusNotFound, "not_found", `"nope"`)
}

func TestListVMs_Filters(t *testing.T) {
	e := newTestEnv(t)
	a := e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
	if strings.TrimSpace(string(a.body)) != "[]" {
		t.Fatalf("empty list = %s, want []", a.body)
	}
	placed := e.createVM("placed")
	e.createVM("pending")
	e.cluster.mustApply(t, fsm.PlaceVM{ID: placed.ID, Node: e.nodes[1].ID, Reason: "test", At: time.Now().UTC()})

	var all, onNode, byName, scheduled, running []client.VM
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, &all)
	e.do("GET", "/api/v1/vms?node="+e.nodes[1].ID, e.root, nil).expect(t, http.StatusOK, &onNode)
	e.do("GET", "/api/v1/vms?node=node-2", e.root, nil).expect(t, http.StatusOK, &byName)
	e.do("GET", "/api/v1/vms?state=scheduled", e.root, nil).expect(t, http.StatusOK, &scheduled)
	e.do("GET", "/api/v1/vms?state=running&node=node-2", e.root, nil).expect(t, http.StatusOK, &running)
	if len(all) != 2 || len(onNode) != 1 || len(byName) != 1 || len(scheduled) != 1 || len(running) != 0 {
		t.Fatalf("all %d, on node %d, by name %d, scheduled %d, running %d", len(all), len(onNode), len(byName), len(scheduled), len(running))
	}
	if onNode[0].ID != placed.ID || onNode[0].NodeName != "node-2" || onNode[0].Node != e.nodes[1].ID {
		t.Fatalf("placed vm = %+v", onNode[0])
	}
	e.do("GET", "/api/v1/vms?state=sleeping", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "state")
	e.do("GET", "/api/v1/vms?node=node-9", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "node-9")
}

func TestVMAction_ChangesDesiredState(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	steps := []struct{ action, desired string }{
		{"stop", "stopped"}, {"start", "running"}, {"pause", "paused"}, {"resume", "running"}, {"restart", "running"},
	}
	for _, s := range steps {
		var got client.VM
		a := e.do("POST", "/api/v1/vms/"+vm.ID+"/"+s.action, e.root, nil).expect(t, http.StatusOK, &got)
		if got.DesiredState != s.desired {
			t.Fatalf("after %s desired_state = %q, want %q", s.action, got.DesiredState, s.desired)
		}
		if a.header.Get(IndexHeader) != strconv.FormatUint(e.fsm.AppliedIndex(), 10) {
			t.Fatalf("after %s index header %q, applied %d", s.action, a.header.Get(IndexHeader), e.fsm.AppliedIndex())
		}
	}
	rec, err := e.fsm.VM(vm.ID)
	if err != nil || rec.RestartSeq != 1 {
		t.Fatalf("restart_seq = %d (%v), want 1", rec.RestartSeq, err)
	}
}

func TestVMAction_RefusedByStateBeforeApply(t *testing.T) {
	e := newTestEnv(t)
	e.createVM("web-1")
	e.do("POST", "/api/v1/vms/web-1/resume", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", "not paused")
	e.do("POST", "/api/v1/vms/web-1/start", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", "already running")
	e.do("POST", "/api/v1/vms/web-1/explode", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", `unknown action "explode"`)
	e.do("POST", "/api/v1/vms/nope/stop", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "nope")
	if n := e.cluster.applies(); n != 1 {
		t.Fatalf("%d Apply calls, want 1 (the create)", n)
	}
}

func TestUpdateVM_ReplacesSpec(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	e.createVM("web-2")
	req := validVM("web-1b")
	req.VCPUs = 4
	var got client.VM
	e.do("PUT", "/api/v1/vms/web-1", e.root, req).expect(t, http.StatusOK, &got)
	if got.ID != vm.ID || got.Name != "web-1b" || got.VCPUs != 4 {
		t.Fatalf("updated vm = %+v", got)
	}
	applies := e.cluster.applies()
	e.do("PUT", "/api/v1/vms/web-1b", e.root, validVM("web-2")).expectError(t, http.StatusConflict, "conflict", "web-2")
	e.do("PUT", "/api/v1/vms/nope", e.root, validVM("x")).expectError(t, http.StatusNotFound, "not_found", "nope")
	bad := validVM("web-1b")
	bad.DiskGiB = 0
	e.do("PUT", "/api/v1/vms/web-1b", e.root, bad).expectError(t, http.StatusBadRequest, "invalid", "disk_gib")
	if n := e.cluster.applies(); n != applies {
		t.Fatalf("refused updates reached Apply: %d calls, want %d", n, applies)
	}
	// Keeping its own name is not a conflict.
	e.do("PUT", "/api/v1/vms/"+vm.ID, e.root, req).expect(t, http.StatusOK, nil)
}

func TestDeleteVM_AnswersWithTheVM(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	var got client.VM
	a := e.do("DELETE", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &got)
	if got.ID != vm.ID || got.Name != "web-1" {
		t.Fatalf("deleted vm = %+v", got)
	}
	if a.header.Get(IndexHeader) != strconv.FormatUint(e.fsm.AppliedIndex(), 10) {
		t.Fatalf("index header %q after delete", a.header.Get(IndexHeader))
	}
	e.do("GET", "/api/v1/vms/"+vm.ID, e.root, nil).expectError(t, http.StatusNotFound, "not_found", vm.ID)
	e.do("DELETE", "/api/v1/vms/web-1", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "web-1")
}
