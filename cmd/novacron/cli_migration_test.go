package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// running is a migration step with the copy at percent.
func running(percent float64, processed, remaining, dirty uint64) client.Migration {
	return client.Migration{State: client.MigrationRunning, Progress: &client.MigrationProgress{
		Percent: percent, DataProcessed: processed, DataRemaining: remaining, DirtyRate: dirty}}
}

func TestVMMigrate_ProgressToCompletion(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	const mib = 1 << 20
	f.ops.migSteps = []client.Migration{
		{State: client.MigrationPreparing},
		running(20, 200*mib, 800*mib, 3*mib),
		running(60, 600*mib, 400*mib, 3*mib),
		running(60, 600*mib, 400*mib, 3*mib), // unchanged: no new line
		{State: client.MigrationCompleted, Result: &client.MigrationResult{TotalMs: 1500, DowntimeMs: 12, DataTransferred: 1 << 30}},
	}
	code, stdout, stderr := runCLI(t, f.env(), "vm", "migrate", "web", "--to", "node-c", "--max-downtime", "300ms",
		"--bandwidth", "500", "--auto-converge", "--parallel", "4", "--compression", "zstd")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	// Off a terminal: a line per new state; new progress in the same
	// state waits a few seconds (60% came too soon after 20%).
	want := "Migrating web from node-a to node-c (live, migration mig-1)\n" +
		"migrating web to node-c: pending\n" +
		"migrating web to node-c: running 20%\n" +
		"Migration mig-1 completed: web now runs on node-c.\n" +
		"Hypervisor figures: total time 1.5s, downtime 12ms, 1.0GiB transferred.\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	reqs := f.requests()
	var body map[string]any
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{"mode": "live", "target": "node-c", "max_downtime_ms": 300.0, "bandwidth_mibps": 500.0,
		"auto_converge": true, "parallel": 4.0, "compression": "zstd"}
	if reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/vms/web/migrate" || !reflect.DeepEqual(body, wantBody) {
		t.Errorf("request = %s %s %v, want %v", reqs[0].Method, reqs[0].Path, body, wantBody)
	}
	if len(reqs) != 7 {
		t.Fatalf("%d requests, want the migrate, 5 questions about its operation and the migration", len(reqs))
	}
	for _, r := range reqs[1:6] {
		if r.Method != "GET" || r.Path != "/api/v1/operations/mig-1" || r.Query != "index=101&wait=1s" {
			t.Errorf("poll = %+v, want GET /api/v1/operations/mig-1?index=101&wait=1s", r)
		}
	}
	if r := reqs[6]; r.Method != "GET" || r.Path != "/api/v1/migrations/mig-1" || r.Query != "index=101" {
		t.Errorf("last read = %+v, want GET /api/v1/migrations/mig-1?index=101", r)
	}
}

func TestVMMigrate_FailedOrCancelledExits1(t *testing.T) {
	for _, tt := range []struct {
		name   string
		final  client.Migration
		stderr string
	}{
		{"failed", client.Migration{State: client.MigrationFailed, Error: "destination libvirtd went away"},
			"Error: migration mig-1 failed: destination libvirtd went away; web stays on node-a\n"},
		{"cancelled", client.Migration{State: client.MigrationCancelled, CancelRequested: true, Error: "aborted"},
			"Error: migration mig-1 was cancelled (aborted); web stays on node-a\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			seedVMs(f)
			f.ops.migSteps = []client.Migration{running(30, 30, 70, 1), tt.final}
			code, stdout, stderr := runCLI(t, f.env(), "vm", "migrate", "web")
			if code != exitError {
				t.Errorf("code = %d, want %d", code, exitError)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr, tt.stderr)
			}
			if !strings.Contains(stdout, "migrating web to node-b: running 30%\n") || strings.Contains(stdout, "completed") {
				t.Errorf("stdout = %q", stdout)
			}
		})
	}
}

func TestVMMigrate_TerminalRedrawsOneLine(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	f.ops.migSteps = []client.Migration{running(50, 512, 512, 0), {State: client.MigrationCompleted}}
	code, stdout, stderr := runCLIOn(t, true, f.env(), "vm", "migrate", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	bar := "\r\x1b[Kmigrating web to node-b [" + strings.Repeat("#", 15) + strings.Repeat("-", 15) + "]  50% running 0s"
	if !strings.Contains(stdout, bar) || strings.Count(stdout, "\n") != 3 {
		t.Errorf("stdout lacks the redrawn line:\n%q", stdout)
	}
	if !strings.HasSuffix(stdout, "] 100% succeeded 0s\nMigration mig-1 completed: web now runs on node-b.\n") {
		t.Errorf("the final message does not start on its own line:\n%q", stdout)
	}
}

func TestVMMigrate_NoWaitAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "migrate", "web", "--mode", "cold", "--no-wait")
	want := "Migration mig-1 accepted: cold web from node-a to node-b.\nFollow it with 'novacron migration show mig-1'.\n"
	if code != exitOK || stdout != want {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("--no-wait made %d requests", n)
	}

	f.ops.migSteps = []client.Migration{running(10, 1, 9, 0), {State: client.MigrationCompleted}}
	code, stdout, stderr = runCLI(t, f.env(), "-o", "json", "vm", "migrate", "db")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var m client.Migration
	if err := json.Unmarshal([]byte(stdout), &m); err != nil || m.State != client.MigrationCompleted || m.ID != "mig-2" {
		t.Fatalf("JSON output is not the final migration: %v\n%s", err, stdout)
	}
}

func TestVMMigrate_RefusedAndUsage(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	f.ops.migrateErr = &apiErr{409, "invalid_state", `node "node-c" is in maintenance`}
	code, _, stderr := runCLI(t, f.env(), "vm", "migrate", "web", "--to", "node-c")
	if code != exitError || stderr != "Error: node \"node-c\" is in maintenance (HTTP 409 invalid_state)\n" {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{
		{"vm", "migrate", "web", "--mode", "teleport"},
		{"vm", "migrate", "web", "--max-downtime", "-1s"},
		{"vm", "migrate", "web", "--max-downtime", "10us"},
		{"vm", "migrate", "web", "--parallel", "-2"},
		{"vm", "migrate"},
		{"migration", "show"},
		{"migration", "cancel", "a", "b"},
	} {
		g := newFakeAPI(t)
		if code, _, stderr := runCLI(t, g.env(), args...); code != exitUsage || len(g.requests()) != 0 {
			t.Errorf("%v: code %d, %d requests, stderr %q; want a usage error", args, code, len(g.requests()), stderr)
		}
	}
}

func TestMigrationCommands_ListShowCancel(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	runCLI(t, f.env(), "vm", "migrate", "web", "--no-wait", "--max-downtime", "200ms")
	m := f.ops.migrations[0]
	m.State, m.Progress = client.MigrationRunning, &client.MigrationProgress{Percent: 42, DataProcessed: 42 << 20, DataRemaining: 58 << 20}

	code, stdout, stderr := runCLI(t, f.env(), "migration", "list")
	want := "" +
		"ID      VM    MODE   FROM     TO       STATE     PROGRESS   REASON   CREATED\n" +
		"mig-1   web   live   node-a   node-b   running   42%        user     2025-01-02T03:04:05Z\n"
	if code != exitOK || stdout != want {
		t.Errorf("list: code %d, stderr %q, stdout =\n%s\nwant\n%s", code, stderr, stdout, want)
	}
	code, stdout, _ = runCLI(t, f.env(), "migration", "show", "mig-1")
	for _, w := range []string{"VM:        web (vm-2)\n", "From:      node-a (n-a)\n", "State:     running\n",
		"Options:   max downtime 200ms\n", "Progress:  42.0%, 42.0MiB transferred, 58.0MiB remaining, dirty rate 0B/s\n"} {
		if code != exitOK || !strings.Contains(stdout, w) {
			t.Errorf("show lacks %q:\n%s", w, stdout)
		}
	}
	code, stdout, _ = runCLI(t, f.env(), "migration", "cancel", "mig-1")
	if code != exitOK || stdout != "Cancel of migration mig-1 requested: the source aborts the copy and web stays where it runs.\n" {
		t.Errorf("cancel: code %d, stdout %q", code, stdout)
	}
	m.State = client.MigrationCancelled
	code, _, stderr = runCLI(t, f.env(), "migration", "cancel", "mig-1")
	if code != exitError || !strings.Contains(stderr, "already cancelled (HTTP 409 invalid_state)") {
		t.Errorf("second cancel: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "migration", "show", "nope")
	if code != exitError || !strings.Contains(stderr, "not found (HTTP 404 not_found)") {
		t.Errorf("show missing: code %d, stderr %q", code, stderr)
	}
}

func TestVMShow_DecisionAndMigration(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	runCLI(t, f.env(), "vm", "migrate", "web", "--no-wait")
	f.ops.migrations[0].State = client.MigrationRunning
	f.ops.migrations[0].Progress = &client.MigrationProgress{Percent: 70}
	web := f.vms[0]
	web.PlacementReason = "spread: node-a is least loaded"
	web.Placement = &client.PlacementSpec{NodeSelector: map[string]string{"region": "eu"}, Groups: []client.GroupRule{{Group: "web", Kind: "anti-affinity", Hard: true}}}
	web.Decision = &client.Decision{Node: "n-a", NodeName: "node-a", Strategy: "spread", Reason: "spread: node-a is least loaded",
		Considered: 3, Feasible: 1,
		Candidates:     []client.Candidate{{NodeID: "n-a", NodeName: "node-a", Score: 0.75, Parts: map[string]float64{"strategy": 0.75}}},
		Rejected:       []client.Rejection{{NodeID: "n-b", NodeName: "node-b", Kind: "memory", Reason: "512 MiB free, needs 1536"}, {NodeID: "n-c", NodeName: "node-c", Kind: "node-selector", Reason: "no label region"}},
		RejectedCounts: map[string]int{"memory": 1, "node-selector": 1}}
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{
		"Placement:      spread: node-a is least loaded\n",
		"Migration:      mig-1 live to node-b, running 70%\n",
		"Constraints:\n  node label region=eu\n  anti-affinity group web (hard)\n",
		"Decision:  node-a (n-a)\n", "Nodes:     3 considered, 1 feasible\n", "Rejected:  memory 1, node-selector 1\n",
		"CANDIDATE   SCORE   PARTS\nnode-a      0.750   strategy=0.750\n",
		"REJECTED   KIND            REASON\nnode-b     memory          512 MiB free, needs 1536\nnode-c     node-selector   no label region\n",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("vm show lacks %q:\n%s", w, stdout)
		}
	}
}
