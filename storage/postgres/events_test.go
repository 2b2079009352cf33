package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
)

// events makes the events of Raft entries from..to: every entry makes one
// event, and every fifth a second one (a batch entry changing two objects).
func events(from, to uint64) []EventRow {
	var rows []EventRow
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := from; i <= to; i++ {
		n := 1
		if i%5 == 0 {
			n = 2
		}
		for seq := range n {
			rows = append(rows, EventRow{
				Index: i, Seq: seq, Time: base.Add(time.Duration(i) * time.Millisecond),
				Type: "vm", Action: "update", ObjectID: fmt.Sprintf("vm-%d", i%7), Name: "web", Project: "default",
				Data: json.RawMessage(fmt.Sprintf(`{"index": %d, "seq": %d}`, i, seq)),
			})
		}
	}
	return rows
}

// checkEvents asserts that cluster holds exactly the events of entries
// 1..through: no duplicate (the key forbids it anyway), no gap, and the
// data of each is its own.
func checkEvents(t *testing.T, db *DB, cluster string, through uint64) {
	t.Helper()
	want := len(events(1, through))
	if n := queryInt(t, db, "SELECT count(*) FROM events WHERE cluster_id = $1", cluster); n != want {
		t.Fatalf("%s: %d events, want %d", cluster, n, want)
	}
	if n := queryInt(t, db, "SELECT count(DISTINCT raft_index) FROM events WHERE cluster_id = $1 AND raft_index BETWEEN 1 AND $2", cluster, through); n != int(through) {
		t.Fatalf("%s: events of %d distinct entries, want %d (a gap)", cluster, n, through)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM events WHERE cluster_id = $1 AND ((data->>'index')::bigint <> raft_index OR (data->>'seq')::int <> seq)", cluster); n != 0 {
		t.Fatalf("%s: %d events hold another event's data", cluster, n)
	}
	hw, err := db.HighWater(ctx(t), cluster)
	if err != nil || hw != through {
		t.Fatalf("%s: HighWater = %d, %v; want %d", cluster, hw, err, through)
	}
}

func TestExportEvents_OverlappingBatchesNoDuplicateNoGap(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	if hw, err := db.HighWater(ctx(t), testCluster); err != nil || hw != 0 {
		t.Fatalf("HighWater of a new cluster = %d, %v; want 0", hw, err)
	}
	if err := db.ExportEvents(ctx(t), testCluster, events(1, 100)); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, db, testCluster, 100)
	// A new leader resumed from an older position: its batch overlaps.
	if err := db.ExportEvents(ctx(t), testCluster, events(40, 150)); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, db, testCluster, 150)
	// A replay of an old batch moves nothing back.
	if err := db.ExportEvents(ctx(t), testCluster, events(1, 60)); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, db, testCluster, 150)
	// Another cluster in the same database is apart.
	if err := db.ExportEvents(ctx(t), "c2", events(1, 10)); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, db, "c2", 10)
	checkEvents(t, db, testCluster, 150)
	// Entries without events still move the mark, never back.
	err := db.WithTx(ctx(t), testCluster, func(tx *Tx) error {
		if err := tx.AdvanceHighWater(ctx(t), 170); err != nil {
			return err
		}
		return tx.AdvanceHighWater(ctx(t), 160)
	})
	if hw, _ := db.HighWater(ctx(t), testCluster); err != nil || hw != 170 {
		t.Fatalf("HighWater after advancing to 170 then 160 = %d, %v", hw, err)
	}
}

// TestExportEvents_AllOrNothing checks that a batch that fails leaves
// neither its events nor a moved high water mark.
func TestExportEvents_AllOrNothing(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	if err := db.ExportEvents(ctx(t), testCluster, events(1, 10)); err != nil {
		t.Fatal(err)
	}
	bad := events(11, 20)
	bad[len(bad)-1].Data = json.RawMessage(`{not json`)
	if err := db.ExportEvents(ctx(t), testCluster, bad); err == nil {
		t.Fatal("a batch with invalid JSON was stored")
	}
	checkEvents(t, db, testCluster, 10)
	if err := db.ExportEvents(ctx(t), testCluster, []EventRow{{Index: 1 << 63, Type: "vm"}}); !errors.Is(err, ErrInvalidRow) {
		t.Fatalf("index beyond a bigint: %v, want ErrInvalidRow", err)
	}
	if err := db.ExportEvents(ctx(t), "", events(1, 2)); !errors.Is(err, ErrInvalidRow) {
		t.Fatalf("no cluster ID: %v, want ErrInvalidRow", err)
	}
	// A zero time is the time of the export.
	if err := db.ExportEvents(ctx(t), testCluster, []EventRow{{Index: 11, Type: "node"}}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM events WHERE raft_index = 11 AND time > now() - interval '1 minute' AND data IS NULL"); n != 1 {
		t.Fatalf("event without time or data: %d rows stored as expected", n)
	}
}

// TestExportEvents_SurvivesRestart restarts PostgreSQL between two batches:
// the pool replaces its dead connections and the second batch goes in. While
// the server is down a call fails within its deadline instead of hanging.
func TestExportEvents_SurvivesRestart(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t) // its own, to restart
	db := mustOpen(t, s.DSN(), testConfig(t))
	if err := db.ExportEvents(ctx(t), testCluster, events(1, 50)); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if err := db.ExportEvents(ctx(t), testCluster, events(51, 100)); err != nil {
		t.Fatalf("export after a restart: %v", err)
	}
	checkEvents(t, db, testCluster, 100)

	s.Stop()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := db.ExportEvents(c, testCluster, events(101, 120)); err == nil {
		t.Fatal("export with the server down succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("export with the server down took %s to fail", took)
	}
	s.Restart()
	// The exporter retries the batch it could not write.
	testutil.Eventually(t, 20*time.Second, "export after the server is back", func() error {
		return db.ExportEvents(ctx(t), testCluster, events(101, 120))
	})
	checkEvents(t, db, testCluster, 120)
}
