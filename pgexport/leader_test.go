package pgexport

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil/pgtest"
)

// TestLeader_ExportsEventsAndObjects runs the export beside a workload of
// creates, updates and deletes and checks that PostgreSQL ends up holding
// every event once and every object as the FSM has it, with no secret.
func TestLeader_ExportsEventsAndObjects(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, pool := testDB(t, dsn), checkPool(t, dsn)
	c := newCluster(t, 1, eventlog.Config{})
	r := c.replicas[0]
	l := NewLeader(leaderConfig(t, db, r))
	run(t, l)

	for round := range 3 {
		c.workload(round)
	}
	waitExported(t, pool, c.index)
	waitStatus(t, l, "caught up", func(st Status) bool {
		return st.Running && st.Connected && st.HighWater == c.index && st.Applied == c.index && st.Lag == 0 && st.LastError == ""
	})
	assertMatches(t, pool, r.f)
	assertEvents(t, pool, r.j, 0)
	assertNoSecret(t, pool)

	// The redacted user data still says how long it was.
	var userData string
	if err := pool.QueryRow(ctxT(t), `SELECT config->'cloud_init'->>'user_data' FROM vm_config_history
		WHERE cluster_id = $1 AND vm_id = 'vm-p0-0'`, testClusterID).Scan(&userData); err != nil {
		t.Fatal(err)
	}
	if userData != fmt.Sprintf("(redacted: %d bytes)", len(secretUserData)) {
		t.Errorf("user data in the config history: %q", userData)
	}
	// A configuration change exported on its own is a new version. (Changes
	// exported in one batch leave the last configuration only: rows show
	// the state read at export time.)
	versions := func() (n, vcpus int) {
		t.Helper()
		if err := pool.QueryRow(ctxT(t), `SELECT count(*), max((config->>'vcpus')::int) FILTER (WHERE valid_to IS NULL)
			FROM vm_config_history WHERE cluster_id = $1 AND vm_id = 'vm-p0-1'`, testClusterID).Scan(&n, &vcpus); err != nil {
			t.Fatal(err)
		}
		return n, vcpus
	}
	before, vcpus := versions()
	if vcpus != 2 {
		t.Errorf("vm-p0-1's current configuration has %d vCPUs, want 2", vcpus)
	}
	c.must(fsm.UpdateVM{ID: "vm-p0-1", Spec: fsm.VMSpec{Name: "vm-p0-1", VCPUs: 3, MemoryMiB: 1024, DiskGiB: 10}, At: c.at()})
	waitExported(t, pool, c.index)
	if n, vcpus := versions(); n != before+1 || vcpus != 3 {
		t.Errorf("after an update: %d versions (was %d), the current with %d vCPUs; want one more, with 3", n, before, vcpus)
	}

	// An alert raised, then acknowledged, is a row of the alerts table.
	c.must(fsm.UpdateAlerts{Upserts: []fsm.Alert{{ID: "vm_crashed:vm:vm-p0-1", Rule: "vm_crashed", Severity: fsm.SeverityWarning,
		ObjectType: "vm", ObjectID: "vm-p0-1", State: fsm.AlertFiring, Message: "vm vm-p0-1 is error", PendingSince: c.at()}}, At: c.at()})
	c.must(fsm.AckAlert{ID: "vm_crashed:vm:vm-p0-1", By: "alice", At: c.at()})
	waitExported(t, pool, c.index)
	var name, state, object string
	if err := pool.QueryRow(ctxT(t), `SELECT name, state, object_id FROM alerts WHERE cluster_id = $1 AND id = 'vm_crashed:vm:vm-p0-1'`,
		testClusterID).Scan(&name, &state, &object); err != nil {
		t.Fatal(err)
	}
	if name != "vm_crashed" || state != "acknowledged" || object != "vm-p0-1" {
		t.Errorf("alert row: %s %s %s, want vm_crashed acknowledged vm-p0-1", name, state, object)
	}

	// A refused command makes an index without events: the mark passes it.
	if err := c.apply(fsm.DeleteVM{ID: "no-such-vm"}); err == nil {
		t.Fatal("deleting a VM that does not exist succeeded")
	}
	waitExported(t, pool, c.index)
}

// TestLeader_LeaderChangeResumes runs the export on one node, stops it (the
// node lost the lead), and starts it on another node fed the same log: the
// second resumes after the first's high water mark and exports only what
// came after it.
func TestLeader_LeaderChangeResumes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, pool := testDB(t, dsn), checkPool(t, dsn)
	c := newCluster(t, 2, eventlog.Config{})
	first := NewLeader(leaderConfig(t, db, c.replicas[0]))
	stop := run(t, first)
	c.workload(0)
	waitExported(t, pool, c.index)
	stop()
	mark := highWater(t, pool)

	c.workload(1)
	c.workload(2)
	second := NewLeader(leaderConfig(t, db, c.replicas[1]))
	run(t, second)
	waitExported(t, pool, c.index)

	assertMatches(t, pool, c.replicas[1].f)
	assertEvents(t, pool, c.replicas[1].j, 0)
	frames, _, _, _ := c.replicas[1].j.Frames(mark, 1<<30)
	var after uint64
	for _, f := range frames {
		after += uint64(len(f.Events))
	}
	if st := second.Status(); st.Exported != after || st.Resyncs != 0 {
		t.Errorf("the second leader exported %d events in %d resyncs; %d came after the first's mark %d", st.Exported, st.Resyncs, after, mark)
	}
}

// TestLeader_GapResyncs lets the journal drop frames the export has not
// taken (the exporter was away): the next export resynchronises every
// object, records the gap, and goes on; removals in the lost range are
// marked through the catalog.
func TestLeader_GapResyncs(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, pool := testDB(t, dsn), checkPool(t, dsn)
	c := newCluster(t, 1, eventlog.Config{MaxFrames: 5})
	r := c.replicas[0]
	cfg := leaderConfig(t, db, r) // the catalog is the DB's LiveIDs

	stop := run(t, NewLeader(cfg))
	c.workload(0)
	waitExported(t, pool, c.index)
	stop()
	mark := highWater(t, pool)

	c.workload(1) // removes objects of round 0 the journal then forgets
	c.workload(2)
	_, gap, _, _ := r.j.Frames(mark, 1)
	if gap == nil {
		t.Fatal("the journal still holds everything after the mark: the test tests nothing")
	}
	l := NewLeader(cfg)
	run(t, l)
	waitExported(t, pool, c.index)

	assertMatches(t, pool, r.f)
	assertEvents(t, pool, r.j, gap.Floor)
	assertNoSecret(t, pool)
	// (The first export may have met gaps of its own: it ran beside the
	// workload, and the journal keeps 5 frames.)
	var msg string
	if err := pool.QueryRow(ctxT(t), `SELECT data->>'message' FROM events WHERE cluster_id = $1 AND type = 'gap' AND raft_index = $2`,
		testClusterID, int64(gap.Floor)).Scan(&msg); err != nil {
		t.Fatalf("the gap event at %d: %v", gap.Floor, err)
	}
	if !strings.Contains(msg, fmt.Sprintf("after Raft index %d up to %d", mark, gap.Floor)) {
		t.Errorf("gap message %q", msg)
	}
	if st := l.Status(); st.Resyncs != 1 {
		t.Errorf("status %+v, want one resync", st)
	}
}

// TestLeader_SurvivesPostgreSQLRestart stops PostgreSQL in the middle of a
// workload: the FSM applies everything without waiting, the export
// reports the failure, and once PostgreSQL is back it catches up with
// nothing missing or doubled.
func TestLeader_SurvivesPostgreSQLRestart(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	db, pool := testDB(t, srv.DSN()), checkPool(t, srv.DSN())
	c := newCluster(t, 1, eventlog.Config{})
	r := c.replicas[0]
	l := NewLeader(leaderConfig(t, db, r))
	run(t, l)
	c.workload(0)
	waitExported(t, pool, c.index)

	srv.Stop()
	c.slowest = 0
	for round := 1; round < 4; round++ {
		c.workload(round)
	}
	if r.f.AppliedIndex() != c.index {
		t.Fatalf("the FSM applied %d of %d", r.f.AppliedIndex(), c.index)
	}
	if c.slowest > time.Second {
		t.Errorf("a command took %s to apply while PostgreSQL was down", c.slowest)
	}
	waitStatus(t, l, "PostgreSQL down", func(st Status) bool {
		return !st.Connected && st.LastError != "" && st.Lag > 0
	})

	srv.Restart()
	pool.Reset() // the test's own connections died with the server
	waitExported(t, pool, c.index)
	waitStatus(t, l, "caught up after the restart", func(st Status) bool {
		return st.Connected && st.LastError == "" && st.Lag == 0
	})
	assertMatches(t, pool, r.f)
	assertEvents(t, pool, r.j, 0)
}
