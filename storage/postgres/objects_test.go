package postgres

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// configVersion is one row of vm_config_history.
type configVersion struct {
	version  int
	from     time.Time
	to       *time.Time
	vcpus    int
	rafIndex int64
}

func configHistory(t *testing.T, db *DB, vmID string) []configVersion {
	t.Helper()
	rows, err := db.pool.Query(ctx(t), `SELECT version, valid_from, valid_to, (config->>'vcpus')::int, raft_index
		FROM vm_config_history WHERE cluster_id = $1 AND vm_id = $2 ORDER BY version`, testCluster, vmID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []configVersion
	for rows.Next() {
		var v configVersion
		if err := rows.Scan(&v.version, &v.from, &v.to, &v.vcpus, &v.rafIndex); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func upsertVM(t *testing.T, db *DB, r VMRow) {
	t.Helper()
	if err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error { return tx.UpsertVM(ctx(t), r) }); err != nil {
		t.Fatalf("UpsertVM at %d: %v", r.Index, err)
	}
}

// TestUpsertVM_ConfigHistory follows one VM through a state change (no new
// version), a configuration change (the old version ends when the new one
// starts), a stale replay (nothing moves), and its deletion (the current
// version ends).
func TestUpsertVM_ConfigHistory(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	vm := VMRow{ID: "vm-1", Project: "default", Name: "web", State: "pending", DesiredState: "running", VCPUs: 2, MemoryMiB: 2048,
		Config: json.RawMessage(`{"name": "web", "vcpus": 2}`), CreatedAt: t0, UpdatedAt: t0, Index: 10}
	upsertVM(t, db, vm)

	vm.State, vm.Node, vm.UpdatedAt, vm.Index = "running", "node-a", t0.Add(time.Minute), 11
	vm.Config = json.RawMessage(`{"vcpus":2,"name":"web"}`) // the same as jsonb
	upsertVM(t, db, vm)
	if h := configHistory(t, db, "vm-1"); len(h) != 1 || h[0].to != nil {
		t.Fatalf("after a state change: %+v, want one current version", h)
	}

	t2 := t0.Add(time.Hour)
	vm.VCPUs, vm.UpdatedAt, vm.Index = 4, t2, 12
	vm.Config = json.RawMessage(`{"name": "web", "vcpus": 4}`)
	upsertVM(t, db, vm)
	h := configHistory(t, db, "vm-1")
	if len(h) != 2 || h[0].to == nil || !h[0].to.Equal(t2) || !h[1].from.Equal(t2) || h[1].to != nil || h[1].vcpus != 4 || h[1].version != 2 {
		t.Fatalf("after a config change: %+v", h)
	}

	// The replay of index 11 (an exporter resuming from an older mark).
	old := vm
	old.VCPUs, old.Index, old.UpdatedAt = 2, 11, t0.Add(time.Minute)
	old.Config = json.RawMessage(`{"name": "web", "vcpus": 2}`)
	upsertVM(t, db, old)
	if n := queryInt(t, db, "SELECT vcpus FROM vms WHERE id = 'vm-1'"); n != 4 {
		t.Fatalf("a stale upsert moved vcpus back to %d", n)
	}
	if h := configHistory(t, db, "vm-1"); len(h) != 2 {
		t.Fatalf("a stale upsert made a version: %+v", h)
	}

	t3 := t0.Add(2 * time.Hour)
	if err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error { return tx.Delete(ctx(t), KindVM, "vm-1", t3, 13) }); err != nil {
		t.Fatal(err)
	}
	h = configHistory(t, db, "vm-1")
	if len(h) != 2 || h[1].to == nil || !h[1].to.Equal(t3) {
		t.Fatalf("after delete: %+v", h)
	}
	var deleted *time.Time
	db.pool.QueryRow(ctx(t), "SELECT deleted_at FROM vms WHERE id = 'vm-1'").Scan(&deleted)
	if deleted == nil || !deleted.Equal(t3) {
		t.Fatalf("deleted_at = %v, want %v", deleted, t3)
	}
	// A VM at a given time: the range query the history is for.
	if n := queryInt(t, db, `SELECT (config->>'vcpus')::int FROM vm_config_history
		WHERE vm_id = 'vm-1' AND valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)`, t0.Add(30*time.Minute)); n != 2 {
		t.Fatalf("vcpus at t0+30m = %d, want 2", n)
	}
}

// TestUpsert_EveryKind writes one row of every kind, replays it older, and
// removes what can be removed: each table's SQL runs at least once.
func TestUpsert_EveryKind(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	data := json.RawMessage(`{"k": "v"}`)
	write := func(index uint64) error {
		return db.WithTx(ctx(t), testCluster, func(tx *Tx) error {
			return errors.Join(
				tx.UpsertProject(ctx(t), ProjectRow{Name: "default", Description: "d", Data: data, CreatedAt: now, Index: index}),
				tx.UpsertUser(ctx(t), UserRow{Name: "ann", Role: "admin", CreatedAt: now, Index: index}),
				tx.UpsertAPIKey(ctx(t), APIKeyRow{ID: "k1", Name: "ci", Role: "operator", User: "ann", Project: "default", CreatedAt: now, Index: index}),
				tx.UpsertNode(ctx(t), NodeRow{ID: "n1", Name: "host-1", Status: "alive", VCPUs: 32, MemoryMiB: 65536, Data: data, JoinedAt: now, Index: index}),
				tx.UpsertMigration(ctx(t), MigrationRow{ID: "m1", VMID: "vm-1", Source: "n1", Target: "n2", Mode: "live", State: "running", CreatedAt: now, Index: index}),
				tx.UpsertFailover(ctx(t), FailoverRow{ID: "f1", Node: "n1", Cause: "no lease", VMs: 3, DetectedAt: now, Index: index}),
				tx.UpsertOperation(ctx(t), OperationRow{ID: "op1", Kind: "drain", ObjectID: "n1", State: "running", CreatedAt: now, Index: index}),
				tx.UpsertVolume(ctx(t), VolumeRow{ID: "vol1", Project: "default", Name: "data", Pool: "default", SizeGiB: 10, CreatedAt: now, Index: index}),
				tx.UpsertSnapshot(ctx(t), SnapshotRow{ID: "s1", ObjectID: "vm-1", Project: "default", Name: "before", CreatedAt: now, Index: index}),
				tx.UpsertAlert(ctx(t), AlertRow{ID: "a1", Name: "host down", Severity: "critical", State: "firing", ObjectID: "n1", StartedAt: now, Index: index}),
				tx.AppendAudit(ctx(t), []AuditRow{{Seq: 1, Time: now, Actor: "ann", Action: "POST /api/v1/vms", Status: 201, Index: index}}),
			)
		})
	}
	if err := write(5); err != nil {
		t.Fatal(err)
	}
	if err := write(4); err != nil { // stale: skipped, not an error
		t.Fatal(err)
	}
	for _, table := range []string{"projects", "users", "api_keys", "nodes", "migrations", "failovers", "operations", "volumes", "snapshots", "alerts"} {
		if n := queryInt(t, db, "SELECT count(*) FROM "+table+" WHERE cluster_id = $1 AND raft_index = 5", testCluster); n != 1 {
			t.Errorf("%s: %d rows at index 5, want 1", table, n)
		}
	}
	if n := queryInt(t, db, "SELECT count(*) FROM audit_log"); n != 1 {
		t.Errorf("audit_log: %d rows, want 1", n)
	}
	err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error {
		return errors.Join(
			tx.Delete(ctx(t), KindProject, "default", now, 6),
			tx.Delete(ctx(t), KindUser, "ann", now, 6),
			tx.Delete(ctx(t), KindAPIKey, "k1", now, 6),
			tx.Delete(ctx(t), KindNode, "n1", now, 6),
			tx.Delete(ctx(t), KindVolume, "vol1", now, 6),
			tx.Delete(ctx(t), KindSnapshot, "s1", now, 6),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"); n != 1 {
		t.Errorf("the key is not revoked")
	}
	for _, kind := range []Kind{KindProject, KindNode, KindAPIKey} {
		if ids, err := db.LiveIDs(ctx(t), testCluster, kind); err != nil || len(ids) != 0 {
			t.Errorf("live %s after its removal: %q, %v", kind, ids, err)
		}
	}
	// The project comes back under its name at a later index.
	if err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error {
		return tx.UpsertProject(ctx(t), ProjectRow{Name: "default", Index: 7})
	}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM projects WHERE deleted_at IS NULL AND raft_index = 7"); n != 1 {
		t.Errorf("the re-created project is still marked deleted")
	}
	if ids, err := db.LiveIDs(ctx(t), testCluster, KindProject); err != nil || len(ids) != 1 || ids[0] != "default" {
		t.Errorf("live projects %q, %v; want the re-created default", ids, err)
	}
	if ids, err := db.LiveIDs(ctx(t), "another-cluster", KindProject); err != nil || len(ids) != 0 {
		t.Errorf("another cluster's live projects %q, %v; want none", ids, err)
	}
	if _, err := db.LiveIDs(ctx(t), testCluster, "nonsense"); !errors.Is(err, ErrInvalidRow) {
		t.Errorf("LiveIDs of an unknown kind: %v", err)
	}
	if err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error { return tx.Delete(ctx(t), "nonsense", "x", now, 8) }); !errors.Is(err, ErrInvalidRow) {
		t.Errorf("Delete of an unknown kind: %v", err)
	}
	if err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error { return tx.UpsertNode(ctx(t), NodeRow{Index: 9}) }); !errors.Is(err, ErrInvalidRow) {
		t.Errorf("a node without ID: %v", err)
	}
}
