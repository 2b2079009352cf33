package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/novacron/novacron/api/client"
)

// fakeOps is the fake API's state for migrations, drains, settings and the
// rebalancer. Reads move scripted records along: each read of a migration
// applies the next of migSteps to it, each read of a drain status returns the
// next of drainSteps (the last one repeats).
type fakeOps struct {
	migrations []*client.Migration
	migSteps   []client.Migration
	migReads   int
	// migrateErr, when set, is what POST /vms/{id}/migrate answers.
	migrateErr *apiErr

	drainSteps []client.DrainStatus
	drainReads int
	// inMaintenance makes POST /nodes/{id}/drain answer 409, as for a node
	// already in maintenance.
	inMaintenance bool

	failover  client.FailoverPlan
	settings  client.Settings
	rebalance client.RebalanceStatus
	// keyring is the gossip keyring (cli_operator_test.go).
	keyring fakeKeyring
}

// routeOps adds the fake's routes for migrations, drains, settings and the
// rebalancer to mux.
func (f *fakeAPI) routeOps(mux *http.ServeMux) {
	f.ops.settings = client.Settings{Strategy: "spread", CPUOvercommit: 1, MemoryOvercommit: 1, MaxMigrationsPerHost: 2,
		MaxMigrationsPerCluster: 8, Rebalance: client.RebalanceSettings{Mode: "recommend", Threshold: 0.1, MinGain: 0.02,
			MaxMoves: 2, CooldownSeconds: 600, IntervalSeconds: 60}}
	mux.HandleFunc("POST /api/v1/vms/{id}/migrate", f.handle(f.migrateVM))
	mux.HandleFunc("GET /api/v1/migrations", f.handle(func(*http.Request) (any, int, error) {
		out := []client.Migration{}
		for _, m := range f.ops.migrations {
			out = append(out, *m)
		}
		return out, 200, nil
	}))
	mux.HandleFunc("GET /api/v1/migrations/{id}", f.handle(f.getMigration))
	mux.HandleFunc("POST /api/v1/migrations/{id}/cancel", f.handle(f.cancelMigration))
	mux.HandleFunc("GET /api/v1/nodes/{id}/drain", f.handle(f.getDrain))
	mux.HandleFunc("POST /api/v1/nodes/{id}/drain", f.handle(f.drainNode))
	mux.HandleFunc("POST /api/v1/nodes/{id}/undrain", f.handle(f.undrainNode))
	mux.HandleFunc("GET /api/v1/nodes/{id}/failover-plan", f.handle(func(*http.Request) (any, int, error) { return f.ops.failover, 200, nil }))
	mux.HandleFunc("GET /api/v1/settings", f.handle(func(*http.Request) (any, int, error) { return f.ops.settings, 200, nil }))
	mux.HandleFunc("PUT /api/v1/settings", f.handle(f.putSettings))
	mux.HandleFunc("GET /api/v1/rebalance", f.handle(func(*http.Request) (any, int, error) { return f.ops.rebalance, 200, nil }))
	f.routeKeyring(mux)
}

// decodeStrict decodes a request body as the real API does: unknown fields refused.
func decodeStrict(r *http.Request, v any) error {
	body, _ := io.ReadAll(r.Body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &apiErr{400, "bad_json", err.Error()}
	}
	return nil
}

func (f *fakeAPI) migrateVM(r *http.Request) (any, int, error) {
	var req client.MigrateRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	if e := f.ops.migrateErr; e != nil {
		return nil, 0, e
	}
	mode := req.Mode
	if mode == "" {
		mode = client.MigrateLive
	}
	target, targetName := "n-b", "node-b"
	if req.Target != "" {
		target, targetName = "n-"+req.Target, req.Target
	}
	f.index++
	m := &client.Migration{
		ID: fmt.Sprintf("mig-%d", len(f.ops.migrations)+1), VMID: vm.ID, VMName: vm.Name, Mode: mode,
		Source: vm.Node, SourceName: vm.NodeName, Target: target, TargetName: targetName, Options: req.Options(),
		State: client.MigrationPending, Reason: "user", CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	f.ops.migrations = append(f.ops.migrations, m)
	vm.Migration = m.ID
	return *m, 202, nil
}

func (f *fakeAPI) findMigration(id string) (*client.Migration, error) {
	for _, m := range f.ops.migrations {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, notFound("migration", id)
}

func (f *fakeAPI) getMigration(r *http.Request) (any, int, error) {
	if want := r.URL.Query().Get("index"); want != "" {
		if n, err := strconv.ParseUint(want, 10, 64); err != nil || n > f.index {
			return nil, 0, &apiErr{504, "index_timeout", "index not applied in time"}
		}
	}
	m, err := f.findMigration(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	return *m, 200, nil
}

// advanceMigration applies the next of migSteps to m, as a read of its
// operation sees it.
func (f *fakeAPI) advanceMigration(m *client.Migration) {
	if f.ops.migReads < len(f.ops.migSteps) {
		step := f.ops.migSteps[f.ops.migReads]
		m.State, m.Progress, m.Result, m.Error, m.CancelRequested = step.State, step.Progress, step.Result, step.Error, step.CancelRequested
		f.ops.migReads++
	}
}

func (f *fakeAPI) cancelMigration(r *http.Request) (any, int, error) {
	m, err := f.findMigration(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	if client.MigrationFinal(m.State) {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("migration %s is already %s", m.ID, m.State)}
	}
	f.index++
	m.CancelRequested = true
	if m.State != client.MigrationRunning {
		m.State = client.MigrationCancelled
		return *m, 200, nil
	}
	return *m, 202, nil
}

func (f *fakeAPI) getDrain(r *http.Request) (any, int, error) {
	if len(f.ops.drainSteps) == 0 {
		return nil, 0, notFound("node", r.PathValue("id"))
	}
	return f.ops.drainSteps[min(max(f.ops.drainReads-1, 0), len(f.ops.drainSteps)-1)], 200, nil
}

// nextDrain is the drain status a read of the drain's operation sees: the
// next of drainSteps (the last one repeats).
func (f *fakeAPI) nextDrain() client.DrainStatus {
	i := min(f.ops.drainReads, len(f.ops.drainSteps)-1)
	f.ops.drainReads++
	return f.ops.drainSteps[i]
}

func (f *fakeAPI) drainNode(r *http.Request) (any, int, error) {
	var req client.DrainRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	if f.ops.inMaintenance {
		return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("node %q is already in maintenance", r.PathValue("id"))}
	}
	f.index++
	st := f.ops.drainSteps[0]
	st.MaintenanceReason, st.Operation = req.Reason, "drain:"+st.NodeID
	f.ops.drainReads = 1
	return st, 202, nil
}

func (f *fakeAPI) undrainNode(r *http.Request) (any, int, error) {
	for i := range f.nodes {
		if n := &f.nodes[i]; n.ID == r.PathValue("id") || n.Name == r.PathValue("id") {
			if !n.Maintenance {
				return nil, 0, &apiErr{409, "invalid_state", fmt.Sprintf("node %q is not in maintenance", n.Name)}
			}
			f.index++
			n.Maintenance, n.MaintenanceReason, n.MaintenanceSince = false, "", nil
			return *n, 200, nil
		}
	}
	return nil, 0, notFound("node", r.PathValue("id"))
}

// putSettings decodes the body onto the settings, as the real API does.
func (f *fakeAPI) putSettings(r *http.Request) (any, int, error) {
	merged := f.ops.settings
	if err := decodeStrict(r, &merged); err != nil {
		return nil, 0, err
	}
	if merged.Rebalance.Mode != "off" && merged.Rebalance.Mode != "recommend" && merged.Rebalance.Mode != "automatic" {
		return nil, 0, &apiErr{400, "invalid", fmt.Sprintf("rebalance.mode must be off, recommend or automatic, got %q", merged.Rebalance.Mode)}
	}
	f.index++
	f.ops.settings = merged
	return merged, 200, nil
}
