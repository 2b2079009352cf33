package pgexport

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/sampler"
)

// history is a host's metrics history with a VM and the host's own series,
// sampled every 10 s.
type history struct {
	t     *testing.T
	clk   *testutil.Clock
	store *metricstore.Store
	next  time.Time // the next sample's time
}

func newHistory(t *testing.T, start time.Time) *history {
	clk := testutil.NewClock(start)
	store, err := metricstore.Open(t.TempDir(), metricstore.Options{Now: clk.Now, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &history{t: t, clk: clk, store: store, next: start}
}

// sample writes samples until the clock reaches until, one every 10 s.
func (h *history) sample(until time.Time) {
	h.t.Helper()
	for ; !h.next.After(until); h.next = h.next.Add(10 * time.Second) {
		h.clk.Set(h.next)
		x := float64(h.next.Unix() % 1000)
		vm := make([]float64, len(sampler.VMFields))
		for i := range vm {
			vm[i] = x + float64(i)
		}
		vm[1] = math.NaN() // cpu_cores: not measured
		if err := h.store.Write(sampler.VMKey("vm-1"), sampler.VMFields, h.next, vm); err != nil {
			h.t.Fatal(err)
		}
		node := make([]float64, len(sampler.NodeFields))
		for i := range node {
			node[i] = x * float64(i+1)
		}
		if err := h.store.Write(sampler.NodeKey("node-a"), sampler.NodeFields, h.next, node); err != nil {
			h.t.Fatal(err)
		}
	}
	h.clk.Set(until)
}

// metricRows counts table's rows of the test cluster, and its distinct
// (object, time) pairs: equal when nothing was copied twice.
func metricRows(t *testing.T, pool *pgxpool.Pool, table string) (rows, distinct int) {
	t.Helper()
	q := fmt.Sprintf("SELECT count(*), count(DISTINCT (object_id, time)) FROM %s WHERE cluster_id = $1", table)
	if err := pool.QueryRow(ctxT(t), q, testClusterID).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// assertMetricRows checks that each table holds want rows, none twice.
func assertMetricRows(t *testing.T, pool *pgxpool.Pool, want int) {
	t.Helper()
	for _, table := range []string{"vm_metrics", "node_metrics"} {
		if n, distinct := metricRows(t, pool, table); n != want || distinct != want {
			t.Errorf("%s: %d rows, %d distinct; want %d", table, n, distinct, want)
		}
	}
}

func newHost(t *testing.T, dsn string, h *history, dir string) *Host {
	return NewHost(HostConfig{DB: testDB(t, dsn), Store: h.store, NodeID: "node-a", ClusterID: func() string { return testClusterID },
		StateDir: dir, Logger: testutil.Logger(t), Now: h.clk.Now})
}

// TestHost_CopiesNewPointsOnce exports a history, then what came after it
// only, and checks the rows' columns against the samples.
func TestHost_CopiesNewPointsOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	pool := checkPool(t, dsn)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h := newHistory(t, start)
	dir := t.TempDir()
	host := newHost(t, dsn, h, dir)

	h.sample(start.Add(10 * time.Minute)) // samples at :00 to 10:00
	if !host.Round(context.Background()) {
		t.Fatalf("round failed: %+v", host.Status())
	}
	// The points of the buckets that ended 5 s ago: 10:00:00 to 10:09:40;
	// the one of 10:09:50 ends too late.
	assertMetricRows(t, pool, 59)

	h.sample(start.Add(20 * time.Minute))
	if !host.Round(context.Background()) {
		t.Fatalf("round failed: %+v", host.Status())
	}
	assertMetricRows(t, pool, 119)

	// Another Host over the same state dir (the agent restarted) goes on
	// from the saved marks.
	h.sample(start.Add(21 * time.Minute))
	if !newHost(t, dsn, h, dir).Round(context.Background()) {
		t.Fatal("round failed")
	}
	assertMetricRows(t, pool, 125)
	if st := host.Status(); st.Exported != 2*119 || !st.Connected || st.LastExportAt.IsZero() {
		t.Errorf("status %+v", st)
	}

	// One row against its sample: the VM's fields by name, the unknown
	// one NULL, the sampler's balloon_bytes as mem_balloon_bytes.
	at := start.Add(5 * time.Minute)
	x := float64(at.Unix() % 1000)
	var cpu, balloon, netTxPackets float64
	var node string
	if err := pool.QueryRow(ctxT(t), `SELECT cpu_percent, mem_balloon_bytes, net_tx_packets_per_s, node_id FROM vm_metrics
		WHERE cluster_id = $1 AND object_id = 'vm-1' AND time = $2`, testClusterID, at).Scan(&cpu, &balloon, &netTxPackets, &node); err != nil {
		t.Fatal(err)
	}
	if cpu != x || balloon != x+4 || netTxPackets != x+12 || node != "node-a" {
		t.Errorf("row at %s: cpu %v balloon %v net_tx_packets %v node %s; want %v %v %v node-a", at, cpu, balloon, netTxPackets, node, x, x+4, x+12)
	}
	var load15 float64
	if err := pool.QueryRow(ctxT(t), `SELECT load15 FROM node_metrics WHERE cluster_id = $1 AND object_id = 'node-a' AND time = $2`,
		testClusterID, at).Scan(&load15); err != nil {
		t.Fatal(err)
	}
	if load15 != x*6 {
		t.Errorf("load15 at %s = %v, want %v", at, load15, x*6)
	}
}

// TestHost_CatchesUpAfterPostgreSQLIsBack stops PostgreSQL: a round fails
// and keeps its marks, and the first round after the restart copies what
// was missed, nothing twice.
func TestHost_CatchesUpAfterPostgreSQLIsBack(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	pool := checkPool(t, srv.DSN())
	start := time.Date(2026, 3, 1, 23, 50, 0, 0, time.UTC) // the outage spans midnight: two partitions
	h := newHistory(t, start)
	host := newHost(t, srv.DSN(), h, t.TempDir())

	h.sample(start.Add(5 * time.Minute))
	if !host.Round(context.Background()) {
		t.Fatalf("round failed: %+v", host.Status())
	}
	assertMetricRows(t, pool, 29)

	srv.Stop()
	h.sample(start.Add(25 * time.Minute))
	if host.Round(context.Background()) {
		t.Fatal("a round succeeded with PostgreSQL down")
	}
	if st := host.Status(); st.Connected || st.LastError == "" {
		t.Errorf("status with PostgreSQL down %+v", st)
	}

	srv.Restart()
	pool.Reset() // the test's own connections died with the server
	if !host.Round(context.Background()) {
		t.Fatalf("round failed after the restart: %+v", host.Status())
	}
	assertMetricRows(t, pool, 149)
	if st := host.Status(); !st.Connected || st.LastError != "" {
		t.Errorf("status after the restart %+v", st)
	}
}
