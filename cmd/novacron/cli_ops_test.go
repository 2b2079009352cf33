package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// drainStep is a drain status of node-a with the VMs named, those given in
// moving having a migration at percent, and those in stuck unmovable.
func drainStep(vms []string, moving map[string]float64, stuck map[string]string) client.DrainStatus {
	st := client.DrainStatus{NodeID: "n-a", NodeName: "node-a", Maintenance: true, VMs: []client.DrainVM{}, Unmovable: []client.UnmovableVM{}}
	for _, name := range vms {
		vm := client.DrainVM{ID: "id-" + name, Name: name, State: "running"}
		if p, ok := moving[name]; ok {
			vm.Migration = &client.DrainMigration{ID: "m-" + name, State: "running", Percent: p}
		}
		st.VMs = append(st.VMs, vm)
		if why, ok := stuck[name]; ok {
			st.Unmovable = append(st.Unmovable, client.UnmovableVM{VMID: vm.ID, VMName: name, Reason: why})
		}
	}
	st.Done = len(vms) == 0
	return st
}

func TestNodeDrain_ProgressUntilEmpty(t *testing.T) {
	f := newFakeAPI(t)
	pinned := map[string]string{"db": "no node fits: node-b: 512 MiB free, needs 4096"}
	f.ops.drainSteps = []client.DrainStatus{
		drainStep([]string{"db", "web", "app"}, nil, pinned),
		drainStep([]string{"db", "web", "app"}, map[string]float64{"web": 10}, pinned),
		drainStep([]string{"db", "web", "app"}, map[string]float64{"web": 10}, pinned), // no change: no line
		drainStep([]string{"db", "app"}, map[string]float64{"app": 55}, nil),           // db fits now
		drainStep([]string{}, nil, nil),
	}
	code, stdout, stderr := runCLI(t, f.env(), "node", "drain", "node-a", "--reason", "kernel upgrade")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	// The VM that cannot move yet is named once; the progress (1 of 3
	// moved away) came too soon after the last line to print again.
	want := "Node node-a is in maintenance; its VMs move away.\n" +
		"draining node-a: running\n" +
		"  1 of 3 VM(s) left cannot move (db: no node fits: node-b: 512 MiB free, needs 4096)\n" +
		"Node node-a is drained: no VMs left.\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	reqs := f.requests()
	if reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/nodes/node-a/drain" || reqs[0].Body != `{"reason":"kernel upgrade"}` {
		t.Errorf("drain request = %+v", reqs[0])
	}
	if len(reqs) != 5 {
		t.Errorf("%d requests, want the drain and 4 questions about its operation", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.Method != "GET" || r.Path != "/api/v1/operations/drain:n-a" || r.Query != "index=101&wait=1s" {
			t.Errorf("poll = %+v, want GET /api/v1/operations/drain:n-a?index=101&wait=1s", r)
		}
	}
}

func TestNodeDrain_TerminalAndUndrainedMeanwhile(t *testing.T) {
	f := newFakeAPI(t)
	f.ops.drainSteps = []client.DrainStatus{
		drainStep([]string{"db", "web"}, map[string]float64{"web": 40}, nil),
		drainStep([]string{"db"}, nil, nil),
		drainStep(nil, nil, nil),
	}
	code, stdout, stderr := runCLIOn(t, true, f.env(), "node", "drain", "node-a")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	half := "\r\x1b[Kdraining node-a [" + strings.Repeat("#", 15) + strings.Repeat("-", 15) + "]  50% running 0s"
	if !strings.Contains(stdout, half) || !strings.HasSuffix(stdout, "] 100% succeeded 0s\nNode node-a is drained: no VMs left.\n") {
		t.Errorf("stdout = %q", stdout)
	}
	// Taken out of maintenance before it was empty: the drain is gone.
	g := newFakeAPI(t)
	undrained := drainStep([]string{"db"}, nil, nil)
	undrained.Maintenance = false
	g.ops.drainSteps = []client.DrainStatus{drainStep([]string{"db"}, nil, nil), undrained}
	code, _, stderr = runCLI(t, g.env(), "node", "drain", "node-a")
	if code != exitError || stderr != "Error: node node-a left maintenance before it was empty (undrained meanwhile?)\n" {
		t.Errorf("undrained meanwhile: code %d, stderr %q", code, stderr)
	}
}

func TestNodeDrain_StuckExits1(t *testing.T) {
	f := newFakeAPI(t)
	stuck := map[string]string{"db": "no node fits: every other node is in maintenance"}
	f.ops.drainSteps = []client.DrainStatus{drainStep([]string{"db"}, nil, stuck)}
	code, stdout, stderr := runCLI(t, f.env(), "node", "drain", "node-a")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	if want := "Error: drain of node node-a is stuck: 1 of 1 VM(s) left cannot move (db: no node fits: every other node is in maintenance); the node stays in maintenance\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "Node node-a is in maintenance; its VMs move away.\n" {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestNodeDrain_AlreadyInMaintenanceWatches(t *testing.T) {
	f := newFakeAPI(t)
	f.ops.inMaintenance = true
	f.ops.drainSteps = []client.DrainStatus{drainStep([]string{"web"}, map[string]float64{"web": 90}, nil), drainStep(nil, nil, nil)}
	code, stdout, stderr := runCLI(t, f.env(), "node", "drain", "node-a")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "Node node-a is already in maintenance; watching its drain.\n") || !strings.HasSuffix(stdout, "Node node-a is drained: no VMs left.\n") {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestNodeDrain_NoWaitAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	f.ops.drainSteps = []client.DrainStatus{drainStep([]string{"web"}, nil, nil), drainStep(nil, nil, nil)}
	code, stdout, _ := runCLI(t, f.env(), "node", "drain", "node-a", "--no-wait")
	if code != exitOK || stdout != "Node node-a is in maintenance; its VMs move away.\nnode-a: 1 VM left, 0 migrating\n" || len(f.requests()) != 1 {
		t.Errorf("--no-wait: code %d, stdout %q, %d requests", code, stdout, len(f.requests()))
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "node", "drain", "node-a")
	var st client.DrainStatus
	if err := json.Unmarshal([]byte(stdout), &st); code != exitOK || err != nil || !st.Done {
		t.Errorf("json drain: code %d, %v, stdout %q", code, err, stdout)
	}
}

func TestNodeUndrainAndFailoverPlan(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	code, stdout, _ := runCLI(t, f.env(), "node", "undrain", "node-b")
	if code != exitOK || stdout != "Node node-b is out of maintenance: it takes VMs again.\n" {
		t.Errorf("undrain: code %d, stdout %q", code, stdout)
	}
	code, _, stderr := runCLI(t, f.env(), "node", "undrain", "node-b")
	if code != exitError || !strings.Contains(stderr, "not in maintenance (HTTP 409 invalid_state)") {
		t.Errorf("second undrain: code %d, stderr %q", code, stderr)
	}

	f.ops.failover = client.FailoverPlan{NodeID: "n-a", NodeName: "node-a",
		Moves:  []client.PlannedMove{{VMID: "v1", VMName: "web", Node: "n-b", NodeName: "node-b", Decision: client.Decision{Reason: "spread: node-b is least loaded"}}},
		NotFit: []client.PlannedMove{{VMID: "v2", VMName: "db", Decision: client.Decision{Reason: "no node fits: node-b: 512 MiB free, needs 4096"}}}}
	code, stdout, _ = runCLI(t, f.env(), "node", "failover-plan", "node-a")
	want := "If node-a died now: 1 VM(s) would restart elsewhere, 1 would fit nowhere.\n\n" +
		"VM    TO       REASON\n" +
		"web   node-b   spread: node-b is least loaded\n\n" +
		"NOT FIT   REASON\n" +
		"db        no node fits: node-b: 512 MiB free, needs 4096\n"
	if code != exitOK || stdout != want {
		t.Errorf("failover-plan: code %d, stdout =\n%s\nwant\n%s", code, stdout, want)
	}
}

func TestSettingsSet_SendsOnlyTheFlagsGiven(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "settings", "set", "--rebalance-mode", "automatic", "--rebalance-cooldown", "15m", "--cpu-overcommit", "2.5")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	r := f.requests()[0]
	var body map[string]any
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"cpu_overcommit": 2.5, "rebalance": map[string]any{"mode": "automatic", "cooldown_seconds": 900.0}}
	if r.Method != "PUT" || r.Path != "/api/v1/settings" || !reflect.DeepEqual(body, want) {
		t.Errorf("request = %s %s %v, want %v", r.Method, r.Path, body, want)
	}
	for _, w := range []string{"Settings updated.\n", "Strategy:             spread\n", "CPU overcommit:       2.5\n",
		"Rebalance mode:       automatic\n", "Rebalance threshold:  0.1\n", "Rebalance cooldown:   15m0s\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "settings", "show")
	var s client.Settings
	if err := json.Unmarshal([]byte(stdout), &s); code != exitOK || err != nil || s.Rebalance.CooldownSeconds != 900 || s.MaxMigrationsPerHost != 2 {
		t.Errorf("settings show: code %d, %v, %+v", code, err, s)
	}
	code, _, stderr = runCLI(t, f.env(), "settings", "set", "--rebalance-mode", "sometimes")
	if code != exitError || !strings.Contains(stderr, "rebalance.mode must be off, recommend or automatic") {
		t.Errorf("bad mode: code %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{
		{"settings", "set"},
		{"settings", "set", "--rebalance-cooldown", "1500ms"},
		{"settings", "set", "--rebalance-interval", "0s"},
		{"settings", "set", "--cpu-overcommit", "lots"},
	} {
		g := newFakeAPI(t)
		if code, _, stderr := runCLI(t, g.env(), args...); code != exitUsage || len(g.requests()) != 0 {
			t.Errorf("%v: code %d, stderr %q; want a usage error and no request", args, code, stderr)
		}
	}
}

func TestRebalance_ShowsStatus(t *testing.T) {
	f := newFakeAPI(t)
	round := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	f.ops.rebalance = client.RebalanceStatus{Mode: "recommend", Leader: "node-a", LeaderID: "n-a", LastRound: &round,
		Imbalance: 0.25, Threshold: 0.1, Reason: "2 moves lower the imbalance to 0.05",
		Nodes: []client.NodeScore{{NodeName: "node-b", Load: 0.1, CPU: 0.1, Memory: 0.05}, {NodeName: "node-a", Load: 0.6, CPU: 0.6, Memory: 0.4, VMs: 3}},
		Recommendations: []client.Move{{VMName: "web", FromName: "node-a", ToName: "node-b",
			Effect: client.RebalanceMove{ImbalanceBefore: 0.25, ImbalanceAfter: 0.05}}},
		RecentMoves: []client.Migration{{ID: "m-9", VMName: "db", SourceName: "node-a", TargetName: "node-b", State: "completed",
			Rebalance: &client.RebalanceMove{ImbalanceBefore: 0.4, ImbalanceAfter: 0.25}, CreatedAt: round}}}
	code, stdout, stderr := runCLI(t, f.env(), "rebalance")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{
		"Mode:        recommend\n", "Leader:      node-a (n-a)\n",
		"Imbalance:   0.250 (threshold 0.100, above the threshold)\n",
		"NODE     LOAD   CPU   MEMORY   VMS\nnode-a   60%    60%   40%      3\nnode-b   10%    10%   5%       0\n",
		"RECOMMENDED   FROM     TO       IMBALANCE\nweb           node-a   node-b   0.250 -> 0.050\n",
		"m-9           db   node-a   node-b   completed   0.400 -> 0.250   2025-03-04T05:06:07Z\n",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("rebalance lacks %q:\n%s", w, stdout)
		}
	}
}

func TestVMCreate_PlacementFlags(t *testing.T) {
	f := newFakeAPI(t)
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "db-1", "--strategy", "binpack", "--node-selector", "region=eu",
		"--node-selector", "gpu=true", "--on-node", "node-a", "--on-node", "n-b", "--prefer-node", "node-a",
		"--affinity", "cache:soft", "--anti-affinity", "db", "--anti-affinity", "zone-a:hard")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var got client.VMRequest
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := &client.PlacementSpec{Strategy: "binpack", NodeSelector: map[string]string{"region": "eu", "gpu": "true"},
		Nodes: []string{"node-a", "n-b"}, PreferredNodes: []string{"node-a"},
		Groups: []client.GroupRule{{Group: "cache", Kind: "affinity"}, {Group: "db", Kind: "anti-affinity", Hard: true},
			{Group: "zone-a", Kind: "anti-affinity", Hard: true}}}
	if !reflect.DeepEqual(got.Placement, want) {
		t.Errorf("placement = %+v, want %+v", got.Placement, want)
	}
	// Without placement flags no placement is sent.
	runCLI(t, f.env(), "vm", "create", "plain", "--no-wait")
	if body := f.requests()[len(f.requests())-1].Body; strings.Contains(body, "placement") {
		t.Errorf("body without placement flags = %s", body)
	}
	for _, args := range [][]string{
		{"vm", "create", "x", "--strategy", "random"},
		{"vm", "create", "x", "--affinity", "g:maybe"},
		{"vm", "create", "x", "--anti-affinity", ":soft"},
		{"vm", "create", "x", "--node-selector", "novalue"},
		{"vm", "create", "x", "--on-node", " "},
	} {
		g := newFakeAPI(t)
		if code, _, stderr := runCLI(t, g.env(), args...); code != exitUsage || len(g.requests()) != 0 {
			t.Errorf("%v: code %d, stderr %q; want a usage error and no request", args, code, stderr)
		}
	}
}

func TestSettingsSet_Retention(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "settings", "set", "--keep-finished", "50", "--finished-max-age", "168h", "--node-reap", "24h")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"retention": map[string]any{"keep_finished": 50.0, "finished_max_age_seconds": 604800.0, "node_reap_seconds": 86400.0}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %v, want %v", body, want)
	}
	for _, w := range []string{"Keep finished:        50, for 168h0m0s\n", "Node reap after:      24h0m0s\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	g := newFakeAPI(t)
	if code, _, _ := runCLI(t, g.env(), "settings", "set", "--node-reap", "90m30.5s"); code != exitUsage || len(g.requests()) != 0 {
		t.Errorf("fractional seconds: code %d; want a usage error and no request", code)
	}
}
