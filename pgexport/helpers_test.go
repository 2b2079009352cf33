package pgexport

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
	"github.com/novacron/novacron/storage/postgres"
)

// TestMain shares one PostgreSQL server between the tests that do not stop
// theirs, and checks that no server is left after them.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testClusterID is the cluster every test FSM is initialised with.
const testClusterID = "cluster-test"

// Secrets the workload puts in the FSM; none may reach PostgreSQL.
const (
	secretPassword = "pw-hash-0f1e2d3c4b5a"
	secretToken    = "token-secret-9a8b7c6d"
	secretUserData = "#cloud-config\nchpasswd: {list: 'root:hunter2-secret'}"
)

// t0 is the time the test commands start at.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// replica is one node's FSM and event journal.
type replica struct {
	f *fsm.FSM
	j *eventlog.Journal
}

func newReplica(jcfg eventlog.Config) *replica {
	r := &replica{f: fsm.New(), j: eventlog.New(jcfg)}
	r.f.SetObserver(r.j)
	return r
}

// cluster feeds the same commands to each of its replicas, as Raft feeds
// every node: the same state at the same index, journals of their own.
type cluster struct {
	t        *testing.T
	replicas []*replica
	index    uint64
	// slowest is the longest a command took to apply.
	slowest time.Duration
}

func newCluster(t *testing.T, n int, jcfg eventlog.Config) *cluster {
	c := &cluster{t: t}
	for range n {
		c.replicas = append(c.replicas, newReplica(jcfg))
	}
	c.must(fsm.InitCluster{ClusterID: testClusterID, At: t0})
	return c
}

// at is the proposer's time of the next command.
func (c *cluster) at() time.Time { return t0.Add(time.Duration(c.index+1) * time.Second) }

// apply applies cmd at the next index on every replica and returns the
// first replica's error.
func (c *cluster) apply(cmd fsm.Command) error {
	c.index++
	var first error
	for i, r := range c.replicas {
		start := time.Now()
		err := r.f.ApplyCommand(cmd, c.index)
		c.slowest = max(c.slowest, time.Since(start))
		if i == 0 {
			first = err
		}
	}
	return first
}

func (c *cluster) must(cmd fsm.Command) {
	c.t.Helper()
	if err := c.apply(cmd); err != nil {
		c.t.Fatalf("apply %T at %d: %v", cmd, c.index, err)
	}
}

// workload applies a round of varied changes named after round: projects,
// users, keys, hosts, VMs (created, updated, deleted), volumes, audit
// entries, and a refused command (an index without events). It keeps the
// objects of earlier rounds unless it removes them on purpose.
func (c *cluster) workload(round int) {
	c.t.Helper()
	p := fmt.Sprintf("p%d", round)
	c.must(fsm.CreateProject{Project: fsm.Project{Name: p, Description: "round " + p, CreatedAt: c.at(), UpdatedAt: c.at()}})
	c.must(fsm.CreateUser{User: fsm.User{Name: "u" + p, Role: "admin", PasswordHash: secretPassword + p, CreatedAt: c.at(), UpdatedAt: c.at()}})
	c.must(fsm.CreateToken{Token: fsm.Token{ID: "k" + p, Name: "key-" + p, Role: "admin", User: "u" + p,
		Hash: fsm.HashSecret(secretToken + p), CreatedAt: c.at()}})
	node := "n" + p
	c.must(fsm.RegisterNode{Node: fsm.Node{ID: node, Name: "host-" + p, APIAddr: "10.0.0.1:8080", Version: "test",
		Capacity: fsm.Capacity{VCPUs: 64, MemoryMiB: 65536, DiskGiB: 1000}, Status: fsm.NodeAlive,
		Hypervisor: fsm.HypervisorInfo{Driver: "sim"}, JoinedAt: c.at()}, At: c.at()})
	for i := range 4 {
		spec := fsm.VMSpec{Name: fmt.Sprintf("vm-%s-%d", p, i), VCPUs: 1, MemoryMiB: 512, DiskGiB: 10}
		if i == 0 {
			spec.CloudInit = &fsm.CloudInit{Hostname: "h", UserData: secretUserData}
		}
		c.must(fsm.CreateVM{ID: fmt.Sprintf("vm-%s-%d", p, i), Spec: spec, Node: node, Project: p, At: c.at()})
	}
	c.must(fsm.UpdateVM{ID: "vm-" + p + "-1", Spec: fsm.VMSpec{Name: "vm-" + p + "-1", VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}, At: c.at()})
	c.must(fsm.DeleteVM{ID: "vm-" + p + "-2", At: c.at()})
	c.must(fsm.CreateVolume{Volume: fsm.Volume{ID: "vol-" + p, Project: p, Name: "data-" + p, SizeGiB: 5, CreatedAt: c.at(), UpdatedAt: c.at()}})
	c.must(fsm.RecordAudit{Entries: []fsm.AuditEntry{
		{At: c.at(), Actor: "u" + p, Action: "POST /api/v1/vms", Object: "vm-" + p + "-0", Status: 201},
		{At: c.at(), Actor: "u" + p, Action: "DELETE /api/v1/vms/:id", Object: "vm-" + p + "-2", Status: 200},
	}})
	if err := c.apply(fsm.DeleteVM{ID: "no-such-vm"}); err == nil {
		c.t.Fatal("deleting a VM that does not exist succeeded")
	}
	if round > 0 {
		// Remove some of the previous round's objects.
		q := fmt.Sprintf("p%d", round-1)
		c.must(fsm.RevokeToken{ID: "k" + q})
		c.must(fsm.DeleteUser{Name: "u" + q})
		c.must(fsm.DeleteVM{ID: "vm-" + q + "-3", At: c.at()})
		c.must(fsm.DeleteVolume{ID: "vol-" + q, At: c.at()})
	}
}

// testDB opens (migrating it) the database dsn names, with short bounds.
func testDB(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, dsn, postgres.Config{ConnectTimeout: 2 * time.Second, StatementTimeout: 10 * time.Second,
		CallTimeout: 10 * time.Second, MigrationTimeout: 30 * time.Second, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// checkPool is a connection of the test's own, to look at what the
// exporter wrote.
func checkPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// leaderConfig is a LeaderConfig over r with the short waits of a test.
func leaderConfig(t *testing.T, db *postgres.DB, r *replica) LeaderConfig {
	return LeaderConfig{DB: db, Events: r.j, State: r.f, Batch: 50, Retry: 300 * time.Millisecond, Poll: 50 * time.Millisecond,
		Logger: testutil.Logger(t)}
}

// run runs l until the returned stop is called (or the test ends).
func run(t *testing.T, l *Leader) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the exporter did not stop within 30 s of its context's end")
		}
	}
	t.Cleanup(stop)
	return stop
}

// highWater reads the export's mark, 0 for none (or PostgreSQL away).
func highWater(t *testing.T, pool *pgxpool.Pool) uint64 {
	var hw int64
	err := pool.QueryRow(ctxT(t), "SELECT high_water FROM export_state WHERE cluster_id = $1", testClusterID).Scan(&hw)
	if err != nil {
		return 0
	}
	return uint64(hw)
}

// waitExported waits until the high water mark reaches index.
func waitExported(t *testing.T, pool *pgxpool.Pool, index uint64) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("the high water mark to reach %d", index), func() error {
		if hw := highWater(t, pool); hw < index {
			return fmt.Errorf("high water %d", hw)
		}
		return nil
	})
}

// waitStatus waits until l's status is as cond wants.
func waitStatus(t *testing.T, l *Leader, what string, cond func(Status) bool) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "the export's status: "+what, func() error {
		if st := l.Status(); !cond(st) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}
