package api

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

func TestSettings_GetShowsDefaults(t *testing.T) {
	e := newTestEnv(t)
	var got client.Settings
	e.do("GET", "/api/v1/settings", e.tokenFor("reader"), nil).expect(t, http.StatusOK, &got)
	if !reflect.DeepEqual(got, toClientSettings(fsm.DefaultSettings())) {
		t.Fatalf("settings = %+v, want the defaults", got)
	}
	if got.Strategy != "spread" || got.Rebalance.Mode != "recommend" || got.MaxMigrationsPerHost != 2 {
		t.Fatalf("defaults = %+v", got)
	}
}

func TestSettings_PutIsPartial(t *testing.T) {
	e := newTestEnv(t)
	var got client.Settings
	a := e.do("PUT", "/api/v1/settings", e.root, `{"rebalance":{"mode":"automatic","cooldown_seconds":30}}`).expect(t, http.StatusOK, &got)
	if got.Rebalance.Mode != "automatic" || got.Rebalance.CooldownSeconds != 30 || got.Rebalance.Threshold != 0.1 || got.Strategy != "spread" {
		t.Fatalf("after a partial update: %+v", got)
	}
	if a.header.Get(IndexHeader) == "" || e.fsm.Settings().Rebalance.Mode != "automatic" {
		t.Fatalf("the update did not reach the FSM")
	}
	e.do("PUT", "/api/v1/settings", e.root, client.SettingsUpdate{Strategy: ptr("binpack"), CPUOvercommit: ptr(4.0)}).expect(t, http.StatusOK, &got)
	if got.Strategy != "binpack" || got.CPUOvercommit != 4 || got.Rebalance.Mode != "automatic" || got.Rebalance.CooldownSeconds != 30 {
		t.Fatalf("second update lost the first: %+v", got)
	}
	var n client.Node
	e.do("GET", "/api/v1/nodes/node-1", e.root, nil).expect(t, http.StatusOK, &n)
	if n.Effective.VCPUs != 32 || n.Effective.MemoryMiB != 16384 || n.Capacity.VCPUs != 8 {
		t.Fatalf("effective capacity with cpu overcommit 4 = %+v (capacity %+v)", n.Effective, n.Capacity)
	}
}

func TestSettings_BadInputNeverReachesApply(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		name, body string
		code, msg  string
	}{
		{"unknown field", `{"strategy":"spread","speed":1}`, "bad_json", `unknown field "speed"`},
		{"unknown nested field", `{"rebalance":{"aggressive":true}}`, "bad_json", `unknown field "aggressive"`},
		{"wrong type", `{"cpu_overcommit":"lots"}`, "bad_json", `field "cpu_overcommit": expected number, got string`},
		{"nested wrong type", `{"rebalance":{"max_moves":1.5}}`, "bad_json", `field "rebalance.max_moves"`},
		{"bad strategy", `{"strategy":"random"}`, "invalid", `strategy must be spread or binpack, got "random"`},
		{"overcommit below 1", `{"cpu_overcommit":0.5}`, "invalid", "cpu_overcommit must be between 1 and 64"},
		{"zero is not a default", `{"memory_overcommit":0}`, "invalid", "memory_overcommit must be between 1 and 64, got 0"},
		{"bad mode", `{"rebalance":{"mode":"sometimes"}}`, "invalid", "rebalance.mode must be off, recommend or automatic"},
		{"threshold too high", `{"rebalance":{"threshold":0.9}}`, "invalid", "rebalance.threshold"},
		{"no moves", `{"rebalance":{"max_moves":0}}`, "invalid", "rebalance.max_moves"},
		{"per host", `{"max_migrations_per_host":100}`, "invalid", "max_migrations_per_host"},
		{"empty body", ``, "bad_json", "request body is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.do("PUT", "/api/v1/settings", e.root, c.body).expectError(t, http.StatusBadRequest, c.code, c.msg)
		})
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from refused settings", n)
	}
	if got := e.fsm.Settings(); !reflect.DeepEqual(got, fsm.DefaultSettings()) {
		t.Fatalf("settings changed: %+v", got)
	}
}

func TestSettings_OnlyAdminWrites(t *testing.T) {
	e := newTestEnv(t)
	for _, role := range []string{"reader", "operator"} {
		tok := e.tokenFor(role)
		e.do("GET", "/api/v1/settings", tok, nil).expect(t, http.StatusOK, nil)
		e.do("PUT", "/api/v1/settings", tok, `{"strategy":"binpack"}`).expectError(t, http.StatusForbidden, "forbidden", "lacks settings:write")
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from forbidden writes", n)
	}
	e.do("PUT", "/api/v1/settings", e.tokenFor("admin"), `{"strategy":"binpack"}`).expect(t, http.StatusOK, nil)
}

func TestRebalance_StatusAndRecentMoves(t *testing.T) {
	e := newTestEnv(t)
	vm := e.runningVM("web-1", e.nodes[0])
	e.runningVM("web-2", e.nodes[0])
	round := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	e.cluster.mu.Lock()
	e.cluster.rebalance = fsm.RebalanceStatus{
		Mode: "automatic", LeaderID: e.nodes[0].ID, LeaderName: "node-1", LastRound: round,
		Plan: fsm.RebalancePlan{
			Imbalance: 0.3, Threshold: 0.1, Reason: "move web-2 to node-2",
			Nodes: []fsm.NodeScore{{NodeID: e.nodes[0].ID, NodeName: "node-1", CPU: 0.5, Memory: 0.6, Load: 0.6, VMs: 2}},
			Moves: []fsm.Move{{VMID: "v", VMName: "web-2", From: e.nodes[0].ID, FromName: "node-1", To: e.nodes[1].ID, ToName: "node-2",
				Effect: fsm.RebalanceMove{ImbalanceBefore: 0.3, ImbalanceAfter: 0.1}}},
		},
	}
	e.cluster.mu.Unlock()
	// 22 automatic moves of web-1 (each cancelled before the next) and a
	// user's: only the last 20 automatic ones are listed, newest first.
	start := time.Now().UTC()
	for i := range 22 {
		id := "auto-" + string(rune('a'+i))
		e.cluster.mustApply(t, fsm.CreateMigration{ID: id, VMID: vm.ID, Mode: fsm.MigrateLive, Target: e.nodes[1].ID,
			Reason: "rebalance", Rebalance: &fsm.RebalanceMove{ImbalanceBefore: 0.3}, At: start.Add(time.Duration(i) * time.Second)})
		e.cluster.mustApply(t, fsm.CancelMigration{ID: id, At: start})
	}
	e.cluster.mustApply(t, fsm.CreateMigration{ID: "by-hand", VMID: vm.ID, Mode: fsm.MigrateLive, Target: e.nodes[1].ID,
		Reason: "user", At: start.Add(time.Minute)})

	var st client.RebalanceStatus
	e.do("GET", "/api/v1/rebalance", e.tokenFor("reader"), nil).expect(t, http.StatusOK, &st)
	if st.Mode != "automatic" || st.Leader != "node-1" || st.LeaderID != e.nodes[0].ID || st.LastRound == nil || !st.LastRound.Equal(round) {
		t.Fatalf("status = %+v", st)
	}
	if st.Imbalance != 0.3 || st.Threshold != 0.1 || st.Reason == "" || len(st.Nodes) != 1 || st.Nodes[0].Load != 0.6 {
		t.Fatalf("plan figures = %+v", st)
	}
	if len(st.Recommendations) != 1 || st.Recommendations[0].ToName != "node-2" || st.Recommendations[0].Effect.ImbalanceAfter != 0.1 {
		t.Fatalf("recommendations = %+v", st.Recommendations)
	}
	if len(st.RecentMoves) != 20 || st.RecentMoves[0].ID != "auto-v" || st.RecentMoves[19].ID != "auto-c" || st.RecentMoves[0].Rebalance == nil {
		t.Fatalf("recent moves: %d, first %+v", len(st.RecentMoves), st.RecentMoves[0])
	}
	for _, m := range st.RecentMoves {
		if m.ID == "by-hand" {
			t.Fatal("a user's migration listed as an automatic move")
		}
	}

	// Before the leader's first round: the mode and threshold in force, no plan.
	e.cluster.mu.Lock()
	e.cluster.rebalance = fsm.RebalanceStatus{}
	e.cluster.mu.Unlock()
	var first client.RebalanceStatus
	a := e.do("GET", "/api/v1/rebalance", e.root, nil).expect(t, http.StatusOK, &first)
	if first.Mode != "recommend" || first.Threshold != 0.1 || first.LastRound != nil || first.Leader != "node-1" || len(first.RecentMoves) != 20 {
		t.Fatalf("status before the first round = %+v", first)
	}
	if !strings.Contains(string(a.body), `"recommendations":[]`) || !strings.Contains(string(a.body), `"nodes":[]`) {
		t.Fatalf("empty lists are not []: %s", a.body)
	}

	e.cluster.mu.Lock()
	e.cluster.rebalanceErr = cluster.ErrNoLeader
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/rebalance", e.root, nil).expectError(t, http.StatusServiceUnavailable, "no_leader", "leader")
}

func ptr[T any](v T) *T { return &v }
