package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// addNode registers one more node of the given size through the fake cluster.
func (e *testEnv) addNode(name string, vcpus int, memMiB int64) fsm.Node {
	e.t.Helper()
	n := fsm.Node{ID: ids.New(), Name: name, Capacity: fsm.Capacity{VCPUs: vcpus, MemoryMiB: memMiB, DiskGiB: 100}, Status: fsm.NodeAlive,
		Hypervisor: fsm.HypervisorInfo{Driver: "sim", URI: "sim://" + name}}
	e.cluster.mustApply(e.t, fsm.RegisterNode{Node: n, At: time.Now().UTC()})
	e.nodes = append(e.nodes, n)
	return n
}

// placedVM creates req through the API and makes it reported in state st on node.
func (e *testEnv) placedVM(req client.VMRequest, node fsm.Node, st fsm.VMState) client.VM {
	e.t.Helper()
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(e.t, http.StatusCreated, &vm)
	now := time.Now().UTC()
	e.cluster.mustApply(e.t, fsm.PlaceVM{ID: vm.ID, Node: node.ID, Reason: "test", At: now})
	e.cluster.mustApply(e.t, fsm.ReportVM{ID: vm.ID, Node: node.ID, Generation: 1, State: st, At: now})
	if st == fsm.VMStopped {
		e.cluster.mustApply(e.t, fsm.VMAction{ID: vm.ID, Action: fsm.ActionStop, At: now})
	}
	return vm
}

// runningVM creates a running VM named name on node.
func (e *testEnv) runningVM(name string, node fsm.Node) client.VM {
	e.t.Helper()
	return e.placedVM(validVM(name), node, fsm.VMRunning)
}

func TestMigrateVM_ToNamedTarget(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web-1", e.nodes[0])
	before := e.cluster.applies()
	var m client.Migration
	body := `{"target":"node-2","max_downtime_ms":300,"bandwidth_mibps":500,"auto_converge":true,"parallel":4,"compression":"zstd"}`
	a := e.do("POST", "/api/v1/vms/web-1/migrate", e.root, body).expect(t, http.StatusAccepted, &m)
	if m.ID == "" || m.VMID != vm.ID || m.VMName != "web-1" || m.Mode != "live" || m.State != "pending" || m.Reason != "user" {
		t.Fatalf("migration = %+v", m)
	}
	if m.Source != e.nodes[0].ID || m.SourceName != "node-1" || m.Target != e.nodes[1].ID || m.TargetName != "node-2" {
		t.Fatalf("migration endpoints = %s (%s) -> %s (%s)", m.Source, m.SourceName, m.Target, m.TargetName)
	}
	want := client.MigrationOptions{MaxDowntimeMs: 300, BandwidthMiBps: 500, AutoConverge: true, Parallel: 4, Compression: "zstd"}
	if m.Options != want || m.FromGeneration != 1 {
		t.Fatalf("options = %+v, from_generation %d", m.Options, m.FromGeneration)
	}
	if got, want := a.header.Get(IndexHeader), strconv.FormatUint(e.fsm.AppliedIndex(), 10); got != want {
		t.Fatalf("index header %q, want the write's index %s", got, want)
	}
	if n := e.cluster.applies() - before; n != 1 {
		t.Fatalf("%d Apply calls, want 1", n)
	}
	var shown client.VM
	e.do("GET", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &shown)
	if shown.Migration != m.ID {
		t.Fatalf("vm migration = %q, want %q", shown.Migration, m.ID)
	}
	var n2 client.Node
	e.do("GET", "/api/v1/nodes/node-2", e.root, nil).expect(t, http.StatusOK, &n2)
	if n2.Incoming != (client.Capacity{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}) || n2.Reserved != n2.Incoming {
		t.Fatalf("target node incoming %+v reserved %+v, want the vm's size", n2.Incoming, n2.Reserved)
	}
}

func TestMigrateVM_SchedulerChoosesAnotherNode(t *testing.T) {
	e := newTestEnv(t)
	e.addNode("node-3", 8, 16384)
	e.runningVM("busy", e.nodes[1])
	e.runningVM("web-1", e.nodes[0])
	var m client.Migration
	// No body at all: a live migration wherever the scheduler says.
	e.do("POST", "/api/v1/vms/web-1/migrate", e.root, nil).expect(t, http.StatusAccepted, &m)
	if m.Mode != "live" || m.TargetName != "node-3" {
		t.Fatalf("migration = %+v, want live to node-3 (spread: node-2 is busier)", m)
	}
	// A cold migration of a stopped VM needs no running guest.
	e.placedVM(validVM("db"), e.nodes[0], fsm.VMStopped)
	e.do("POST", "/api/v1/vms/db/migrate", e.root, client.MigrateRequest{Mode: "cold"}).expect(t, http.StatusAccepted, &m)
	if m.Mode != "cold" || m.Target == e.nodes[0].ID {
		t.Fatalf("cold migration = %+v", m)
	}
}

func TestMigrateVM_BadInputNeverReachesApply(t *testing.T) {
	e := newTestEnv(t)
	e.addNode("full", 1, 512)
	dead := e.addNode("dead", 8, 16384)
	maint := e.addNode("maint", 8, 16384)
	now := time.Now().UTC()
	e.cluster.mustApply(t, fsm.SetNodeStatus{ID: dead.ID, Status: fsm.NodeFailed, Cause: "test", At: now})
	e.cluster.mustApply(t, fsm.SetMaintenance{ID: maint.ID, Maintenance: true, Reason: "test", At: now})
	set := fsm.DefaultSettings()
	set.CPUOvercommit = 4 // room for every VM below on node-1
	e.cluster.mustApply(t, fsm.SetSettings{Settings: set, At: now})
	e.runningVM("web-1", e.nodes[0])
	e.placedVM(validVM("stopped"), e.nodes[0], fsm.VMStopped)
	e.createVM("pending")
	moving := e.runningVM("moving", e.nodes[0])
	e.cluster.mustApply(t, fsm.CreateMigration{ID: "m-1", VMID: moving.ID, Mode: fsm.MigrateLive, Target: e.nodes[1].ID, Reason: "user", At: now})
	// Two members of a hard anti-affinity group: db-b cannot join db-a on node-2.
	anti := &client.PlacementSpec{Groups: []client.GroupRule{{Group: "db", Kind: "anti-affinity", Hard: true}}}
	dbA, dbB := validVM("db-a"), validVM("db-b")
	dbA.Placement, dbB.Placement = anti, anti
	e.placedVM(dbA, e.nodes[1], fsm.VMRunning)
	e.placedVM(dbB, e.nodes[0], fsm.VMRunning)
	// A VM that only node-1 may run: no other node can take it.
	pinned := validVM("pinned")
	pinned.Placement = &client.PlacementSpec{Nodes: []string{"node-1"}}
	e.placedVM(pinned, e.nodes[0], fsm.VMRunning)
	before, records := e.cluster.applies(), len(e.fsm.Migrations())

	cases := []struct {
		name, vm, body string
		status         int
		code, msg      string
	}{
		{"same node", "web-1", `{"target":"node-1"}`, 400, "invalid", "already runs on that node"},
		{"full node", "web-1", `{"target":"full"}`, 409, "invalid_state", `node "full" has 512 MiB of memory free`},
		{"dead node", "web-1", `{"target":"dead"}`, 409, "invalid_state", `node "dead" is failed, not alive`},
		{"maintenance node", "web-1", `{"target":"maint"}`, 409, "invalid_state", `node "maint" is in maintenance`},
		{"stopped vm live", "stopped", `{"target":"node-2"}`, 409, "invalid_state", "only a running or paused vm can migrate live"},
		{"stopped vm no target", "stopped", ``, 409, "invalid_state", "use mode cold"},
		{"pending vm", "pending", `{"mode":"cold"}`, 409, "invalid_state", "not placed on any node"},
		{"already migrating", "moving", `{"target":"node-2"}`, 409, "conflict", "already migrating (migration m-1)"},
		{"already migrating no target", "moving", ``, 409, "conflict", "already migrating"},
		{"unknown vm", "nope", `{"target":"node-2"}`, 404, "not_found", `"nope"`},
		{"unknown target", "web-1", `{"target":"node-9"}`, 404, "not_found", `"node-9"`},
		{"bad mode", "web-1", `{"mode":"teleport"}`, 400, "invalid", `mode must be live, warm or cold, got "teleport"`},
		{"negative downtime", "web-1", `{"max_downtime_ms":-1}`, 400, "invalid", "max_downtime_ms"},
		{"too parallel", "web-1", `{"parallel":100}`, 400, "invalid", "parallel must be between 0 and 64"},
		{"compression needs parallel", "web-1", `{"compression":"zstd"}`, 400, "invalid", "needs parallel of 2 or more"},
		{"unknown compression", "web-1", `{"compression":"lz4"}`, 400, "invalid", "compression must be"},
		{"cold with options", "web-1", `{"mode":"cold","auto_converge":true}`, 400, "invalid", "a cold one takes none"},
		{"unknown field", "web-1", `{"target":"node-2","speed":9}`, 400, "bad_json", `unknown field "speed"`},
		{"wrong type", "web-1", `{"parallel":"four"}`, 400, "bad_json", `field "parallel"`},
		{"hard anti-affinity", "db-b", `{"target":"node-2"}`, 409, "invalid_state", `anti-affinity group "db" already has 1 member here`},
		{"nothing fits", "pinned", ``, 409, "invalid_state", `no other node can take vm "pinned"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			e.do("POST", "/api/v1/vms/"+c.vm+"/migrate", e.root, body).expectError(t, c.status, c.code, c.msg)
		})
	}
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d Apply calls from refused migrations", n-before)
	}
	if n := len(e.fsm.Migrations()); n != records {
		t.Fatalf("%d migration records, want %d: nothing may change", n, records)
	}
}

func TestMigrateVM_Roles(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("web-1", e.nodes[0])
	reader, op := e.tokenFor("reader"), e.tokenFor("operator")
	e.do("POST", "/api/v1/vms/web-1/migrate", reader, nil).expectError(t, http.StatusForbidden, "forbidden", `role reader of key "reader-tok" lacks vm:write in project default`)
	var m client.Migration
	e.do("POST", "/api/v1/vms/web-1/migrate", op, nil).expect(t, http.StatusAccepted, &m)
	e.do("GET", "/api/v1/migrations/"+m.ID, reader, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/migrations", reader, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/migrations/"+m.ID+"/cancel", reader, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks migration:write")
	e.do("POST", "/api/v1/migrations/"+m.ID+"/cancel", op, nil).expect(t, http.StatusOK, nil)
}

func TestMigrations_ListFiltersAndGet(t *testing.T) {
	e := newTestEnv(t)
	e.addNode("node-3", 8, 16384)
	e.runningVM("web-1", e.nodes[0])
	e.runningVM("web-2", e.nodes[1])
	a := e.do("GET", "/api/v1/migrations", e.root, nil).expect(t, http.StatusOK, nil)
	if strings.TrimSpace(string(a.body)) != "[]" {
		t.Fatalf("empty list = %s, want []", a.body)
	}
	var m1, m2 client.Migration
	e.do("POST", "/api/v1/vms/web-1/migrate", e.root, client.MigrateRequest{Target: "node-3"}).expect(t, http.StatusAccepted, &m1)
	e.do("POST", "/api/v1/vms/web-2/migrate", e.root, client.MigrateRequest{Target: "node-3", Mode: "warm"}).expect(t, http.StatusAccepted, &m2)
	e.do("POST", "/api/v1/migrations/"+m1.ID+"/cancel", e.root, nil).expect(t, http.StatusOK, nil)

	list := func(query string) []client.Migration {
		t.Helper()
		var out []client.Migration
		e.do("GET", "/api/v1/migrations"+query, e.root, nil).expect(t, http.StatusOK, &out)
		return out
	}
	if all := list(""); len(all) != 2 {
		t.Fatalf("all = %+v", all)
	}
	for query, want := range map[string]string{
		"?vm=web-1": m1.ID, "?vm=" + m2.VMID: m2.ID, "?state=cancelled": m1.ID, "?state=pending": m2.ID,
		"?node=node-1": m1.ID, "?node=" + e.nodes[1].ID: m2.ID, "?vm=web-2&node=node-3&state=pending": m2.ID,
	} {
		got := list(query)
		if len(got) != 1 || got[0].ID != want {
			t.Errorf("GET /api/v1/migrations%s = %+v, want only %s", query, got, want)
		}
	}
	if got := list("?node=node-3"); len(got) != 2 {
		t.Errorf("migrations to node-3 = %d, want 2", len(got))
	}
	if got := list("?vm=gone"); len(got) != 0 {
		t.Errorf("migrations of an unknown vm = %+v", got)
	}
	e.do("GET", "/api/v1/migrations?state=flying", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", `"flying" is not one of pending`)

	var got client.Migration
	e.do("GET", "/api/v1/migrations/"+m2.ID, e.root, nil).expect(t, http.StatusOK, &got)
	if got.ID != m2.ID || got.Mode != "warm" || got.TargetName != "node-3" || got.SourceName != "node-2" || got.CreatedAt.IsZero() {
		t.Fatalf("GET migration = %+v", got)
	}
	e.do("GET", "/api/v1/migrations/nope", e.root, nil).expectError(t, http.StatusNotFound, "not_found", `"nope"`)
}

func TestCancelMigration_PendingEndsRunningIsAsked(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("web-1", e.nodes[0])
	e.runningVM("web-2", e.nodes[0])
	var pending, running client.Migration
	e.do("POST", "/api/v1/vms/web-1/migrate", e.root, nil).expect(t, http.StatusAccepted, &pending)
	e.do("POST", "/api/v1/vms/web-2/migrate", e.root, nil).expect(t, http.StatusAccepted, &running)
	now := time.Now().UTC()
	e.cluster.mustApply(t, fsm.UpdateMigration{ID: running.ID, State: fsm.MigrationPreparing, At: now})
	e.cluster.mustApply(t, fsm.UpdateMigration{ID: running.ID, State: fsm.MigrationPreparing, TargetReady: true, At: now})
	e.cluster.mustApply(t, fsm.UpdateMigration{ID: running.ID, State: fsm.MigrationRunning,
		Progress: &fsm.MigrationProgress{Percent: 40, DataTotal: 100, DataProcessed: 40, DataRemaining: 60}, At: now})

	var got client.Migration
	e.do("POST", "/api/v1/migrations/"+pending.ID+"/cancel", e.root, nil).expect(t, http.StatusOK, &got)
	if got.State != "cancelled" || !got.CancelRequested || got.FinishedAt == nil {
		t.Fatalf("cancelled pending migration = %+v", got)
	}
	e.do("POST", "/api/v1/migrations/"+running.ID+"/cancel", e.root, nil).expect(t, http.StatusAccepted, &got)
	if got.State != "running" || !got.CancelRequested || got.Progress == nil || got.Progress.Percent != 40 || got.StartedAt == nil {
		t.Fatalf("cancel of a running migration = %+v", got)
	}
	before := e.cluster.applies()
	e.do("POST", "/api/v1/migrations/"+pending.ID+"/cancel", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", "is already cancelled")
	e.do("POST", "/api/v1/migrations/nope/cancel", e.root, nil).expectError(t, http.StatusNotFound, "not_found", `"nope"`)
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d Apply calls from refused cancels", n-before)
	}
	var vm client.VM
	e.do("GET", "/api/v1/vms/web-1", e.root, nil).expect(t, http.StatusOK, &vm)
	if vm.Migration != "" || vm.NodeName != "node-1" {
		t.Fatalf("vm after a cancelled migration = %+v", vm)
	}
}

func TestMigrateVM_OwnRouteInMetrics(t *testing.T) {
	e := newTestEnv(t)
	e.runningVM("web-1", e.nodes[0])
	e.do("POST", "/api/v1/vms/web-1/migrate", e.root, nil).expect(t, http.StatusAccepted, nil)
	body := string(e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK, nil).body)
	if want := `novacron_http_request_duration_seconds_count{route="/api/v1/vms/:id/migrate",method="POST",code="202"}`; !strings.Contains(body, want) {
		t.Fatalf("/metrics lacks %s:\n%s", want, grep(body, "/api/v1/vms/:id"))
	}
}

func TestMigratingVM_EditAndDeleteRefusedBeforeRaft(t *testing.T) {
	e := newTestEnv(t)
	moving := e.runningVM("moving", e.nodes[0])
	e.cluster.mustApply(t, fsm.CreateMigration{ID: "m-1", VMID: moving.ID, Mode: fsm.MigrateLive, Target: e.nodes[1].ID, Reason: "user", At: time.Now().UTC()})
	before := e.cluster.applies()
	e.do("PUT", "/api/v1/vms/moving", e.root, validVM("moving")).expectError(t, http.StatusConflict, "conflict", "is migrating (migration m-1)")
	e.do("DELETE", "/api/v1/vms/moving", e.root, nil).expectError(t, http.StatusConflict, "conflict", "is migrating (migration m-1)")
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d Apply calls from refused changes to a migrating vm", n-before)
	}
	if vm, err := e.fsm.VM(moving.ID); err != nil || vm.Migration != "m-1" {
		t.Fatalf("vm after the refused changes: %+v %v", vm, err)
	}
}
