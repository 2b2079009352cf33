package postgres

import (
	"slices"
	"strings"
	"testing"
)

// columns lists a table's columns in order.
func columns(t *testing.T, db *DB, table string) []string {
	t.Helper()
	rows, err := db.pool.Query(ctx(t), `SELECT column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

// TestSchema_NoSecrets pins api_keys' columns (a key's secret or hash must
// never be exported) and checks that no table has a column that sounds like
// a credential.
func TestSchema_NoSecrets(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	want := []string{"cluster_id", "id", "name", "role", "user_name", "project", "created_at", "expires_at", "revoked_at", "raft_index"}
	if got := columns(t, db, "api_keys"); !slices.Equal(got, want) {
		t.Fatalf("api_keys columns:\n got %v\nwant %v", got, want)
	}
	rows, err := db.pool.Query(ctx(t), `SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		rows.Scan(&c)
		for _, bad := range []string{"hash", "secret", "password", "token"} {
			if strings.Contains(c, bad) {
				t.Errorf("column %s looks like it holds a credential", c)
			}
		}
	}
}

// TestSchema_MetricsPartitionedAndIndexed checks the metric tables are
// partitioned by range of time and indexed for a series query.
func TestSchema_MetricsPartitionedAndIndexed(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	for _, table := range metricTables {
		var strategy, key string
		err := db.pool.QueryRow(ctx(t), `SELECT p.partstrat::text, pg_get_partkeydef(p.partrelid) FROM pg_partitioned_table p
			WHERE p.partrelid = $1::regclass`, table).Scan(&strategy, &key)
		if err != nil || strategy != "r" || key != "RANGE (\"time\")" {
			t.Errorf("%s: partition strategy %q key %q (%v), want range on time", table, strategy, key, err)
		}
		var def string
		err = db.pool.QueryRow(ctx(t), `SELECT indexdef FROM pg_indexes WHERE tablename = $1`, table).Scan(&def)
		if err != nil || !strings.Contains(def, "(cluster_id, object_id, \"time\")") {
			t.Errorf("%s: index %q (%v), want one on (cluster_id, object_id, time)", table, def, err)
		}
	}
	want := append([]string{"cluster_id", "object_id", "node_id", "time"}, vmMetricColumns...)
	if got := columns(t, db, "vm_metrics"); !slices.Equal(got, want) {
		t.Errorf("vm_metrics columns:\n got %v\nwant %v", got, want)
	}
	want = append([]string{"cluster_id", "object_id", "node_id", "time"}, nodeMetricColumns...)
	if got := columns(t, db, "node_metrics"); !slices.Equal(got, want) {
		t.Errorf("node_metrics columns:\n got %v\nwant %v", got, want)
	}
}
