package postgres

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
)

// TestMain shares one PostgreSQL server between the tests (each in a
// database of its own) and checks that none is left running after them.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testCluster is the cluster ID the tests write under.
const testCluster = "c1"

// testConfig shrinks the time bounds, so that a hung call fails the test
// quickly instead of running into go test's timeout.
func testConfig(tb testing.TB) Config {
	return Config{
		MaxConns:         4,
		ConnectTimeout:   3 * time.Second,
		StatementTimeout: 10 * time.Second,
		CallTimeout:      20 * time.Second,
		MigrationTimeout: 30 * time.Second,
		Logger:           testutil.Logger(tb),
	}
}

// newTestDB opens (migrates) a fresh database on the shared server and
// returns it with its DSN, for a second Open of the same database.
func newTestDB(tb testing.TB) (*DB, string) {
	tb.Helper()
	dsn := pgtest.Shared(tb).NewDatabase(tb)
	return mustOpen(tb, dsn, testConfig(tb)), dsn
}

func mustOpen(tb testing.TB, dsn string, cfg Config) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Open(ctx, dsn, cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}

// ctx is a test's context for one call.
func ctx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return c
}

// queryInt runs a query that answers one integer.
func queryInt(tb testing.TB, db *DB, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.pool.QueryRow(ctx(tb), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// recorder is a slog handler that keeps the messages logged, for tests that
// count what happened (migrations applied) across several DBs.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}
