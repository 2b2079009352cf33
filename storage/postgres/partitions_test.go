package postgres

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// partitions lists the metric partitions that exist, sorted.
func partitions(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.pool.Query(ctx(t), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent IN ('vm_metrics'::regclass, 'node_metrics'::regclass) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

func TestEnsurePartitions_CreatesOncePerDayAndDrops(t *testing.T) {
	t.Parallel()
	db, dsn := newTestDB(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// A time late in a day in a zone east of UTC is still its UTC day.
	east := time.FixedZone("UTC+10", 10*3600)
	if err := db.EnsurePartitions(ctx(t), day.Add(23*time.Hour).In(east), day.AddDate(0, 0, 2).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"node_metrics_p20260301", "node_metrics_p20260302", "node_metrics_p20260303",
		"vm_metrics_p20260301", "vm_metrics_p20260302", "vm_metrics_p20260303",
	}
	if got := partitions(t, db); !slices.Equal(got, want) {
		t.Fatalf("partitions:\n got %v\nwant %v", got, want)
	}

	// Agents (here, separate DBs with their own caches) ensuring the same
	// new days at once create each partition once, without an error.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		other := mustOpen(t, dsn, testConfig(t))
		wg.Go(func() { errs[i] = other.EnsurePartitions(ctx(t), day, day.AddDate(0, 0, 4)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent EnsurePartitions: %v", err)
		}
	}
	if got := partitions(t, db); len(got) != 10 {
		t.Fatalf("after ensuring 5 days: %v", got)
	}
	// A partition's index is the parent's, for the series query.
	if n := queryInt(t, db, `SELECT count(*) FROM pg_indexes WHERE tablename = 'vm_metrics_p20260305' AND indexdef LIKE '%(cluster_id, object_id, "time")%'`); n != 1 {
		t.Fatal("the new partition has no (cluster_id, object_id, time) index")
	}

	dropped, err := db.DropPartitionsBefore(ctx(t), day.AddDate(0, 0, 2).Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantDropped := []string{"node_metrics_p20260301", "node_metrics_p20260302", "vm_metrics_p20260301", "vm_metrics_p20260302"}
	if !slices.Equal(dropped, wantDropped) {
		t.Fatalf("dropped %v, want %v (the day of the cut-off stays)", dropped, wantDropped)
	}
	if got := partitions(t, db); len(got) != 6 || got[0] != "node_metrics_p20260303" {
		t.Fatalf("after the drop: %v", got)
	}
	// A table that is not ours is never dropped, whatever its name says.
	if _, err := db.pool.Exec(ctx(t), "CREATE TABLE vm_metrics_p20200101 (x int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DropPartitionsBefore(ctx(t), day.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := partitions(t, db); len(got) != 0 {
		t.Fatalf("after dropping everything: %v", got)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM pg_class WHERE relname = 'vm_metrics_p20200101'"); n != 1 {
		t.Fatal("a table that is no partition was dropped")
	}
	if err := db.EnsurePartitions(ctx(t), day, day.AddDate(2, 0, 0)); err == nil {
		t.Fatal("EnsurePartitions for two years at once succeeded")
	}
}

// TestCopyMetrics_PartitionDroppedElsewhere: another agent's retention drops
// a day this DB's cache knows; the next COPY into that day notices and
// makes it again.
func TestCopyMetrics_PartitionDroppedElsewhere(t *testing.T) {
	t.Parallel()
	db, dsn := newTestDB(t)
	other := mustOpen(t, dsn, testConfig(t))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rows := []VMMetricRow{{ClusterID: testCluster, VMID: "vm-1", NodeID: "n1", Time: at, VMMetrics: VMMetrics{CPUPercent: 50}}}
	if err := db.CopyMetrics(ctx(t), rows); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DropPartitionsBefore(ctx(t), at.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := db.CopyMetrics(ctx(t), rows); err != nil {
		t.Fatalf("copy into a day dropped elsewhere: %v", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM vm_metrics"); n != 1 {
		t.Fatalf("%d rows, want the 1 copied after the drop", n)
	}
}
