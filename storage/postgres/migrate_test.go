package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
)

// wantTables are the tables the schema must hold (metric partitions aside).
var wantTables = []string{
	"alerts", "api_keys", "audit_log", "events", "export_state", "failovers", "migrations",
	"node_metrics", "nodes", "operations", "projects", "schema_migrations", "snapshots",
	"users", "vm_config_history", "vm_metrics", "vms", "volumes",
}

func TestOpen_MigratesEmptyDatabaseOnce(t *testing.T) {
	t.Parallel()
	db, dsn := newTestDB(t)
	if v, err := db.SchemaVersion(ctx(t)); err != nil || v != latestVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latestVersion())
	}
	rows, _ := db.pool.Query(ctx(t), `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`)
	var got []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		got = append(got, n)
	}
	if strings.Join(got, ",") != strings.Join(wantTables, ",") {
		t.Fatalf("tables:\n got %v\nwant %v", got, wantTables)
	}
	var before time.Time
	db.pool.QueryRow(ctx(t), "SELECT max(applied_at) FROM schema_migrations").Scan(&before)

	// A second Open (an agent restart) finds nothing to do. With one
	// connection, the pool's only connection is the one that migrated: it
	// must come back with the lock released and the usual timeouts.
	rec := &recorder{}
	cfg := testConfig(t)
	cfg.Logger = slog.New(rec)
	cfg.MaxConns = 1
	db2 := mustOpen(t, dsn, cfg)
	if n := rec.count("applied schema migration"); n != 0 {
		t.Fatalf("second Open applied %d migrations", n)
	}
	if n := db2.pool.Stat().TotalConns(); n != 1 {
		t.Fatalf("the pool holds %d connections after Open, want the migrating one back", n)
	}
	var timeout string
	if err := db2.pool.QueryRow(ctx(t), "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "10s" {
		t.Fatalf("statement_timeout after migrating = %q, %v; want 10s", timeout, err)
	}
	if n := queryInt(t, db2, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); n != 0 {
		t.Fatalf("%d advisory locks held after Open", n)
	}
	if n := queryInt(t, db2, "SELECT count(*) FROM schema_migrations"); n != latestVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d", n, latestVersion())
	}
	var after time.Time
	db2.pool.QueryRow(ctx(t), "SELECT max(applied_at) FROM schema_migrations").Scan(&after)
	if !after.Equal(before) {
		t.Fatalf("applied_at moved from %v to %v", before, after)
	}
}

// TestOpen_ConcurrentOpensMigrateOnce starts several agents' Open at the
// same moment on an empty database: the advisory lock lets one migrate and
// the others find the schema done.
func TestOpen_ConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	rec := &recorder{}
	cfg := testConfig(t)
	cfg.Logger = slog.New(rec)
	const agents = 4
	var wg sync.WaitGroup
	errs := make([]error, agents)
	start := make(chan struct{})
	for i := range agents {
		wg.Go(func() {
			<-start
			db, err := Open(context.Background(), dsn, cfg)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
	}
	if n := rec.count("applied schema migration"); n != latestVersion() {
		t.Fatalf("%d migrations applied by %d concurrent Opens, want %d (each once)", n, agents, latestVersion())
	}
	db := mustOpen(t, dsn, testConfig(t))
	if n := queryInt(t, db, "SELECT count(*) FROM schema_migrations"); n != latestVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d", n, latestVersion())
	}
}

func TestOpen_SchemaTooNewRefused(t *testing.T) {
	t.Parallel()
	db, dsn := newTestDB(t)
	if _, err := db.pool.Exec(ctx(t), "INSERT INTO schema_migrations (version) VALUES ($1)", latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx(t), dsn, testConfig(t))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	// The refusal released the migration lock: an Open can still take it.
	if _, err := db.pool.Exec(ctx(t), "DELETE FROM schema_migrations WHERE version = $1", latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dsn, testConfig(t))
}

func TestOpen_InvalidDSNHidesPassword(t *testing.T) {
	for _, dsn := range []string{"", "  ", "postgres://u:s3cr3t@host:notaport/db", "host=x password=s3cr3t port=nope"} {
		_, err := Open(ctx(t), dsn, testConfig(t))
		if !errors.Is(err, ErrInvalidDSN) {
			t.Errorf("Open(%q): %v, want ErrInvalidDSN", dsn, err)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
	}
}

// TestOpen_UnreachableFailsFast checks that an absent database fails Open
// within the connect timeout, never hangs the agent's start.
func TestOpen_UnreachableFailsFast(t *testing.T) {
	port := testutil.FreePort(t) // nothing listens there
	cfg := testConfig(t)
	cfg.ConnectTimeout = time.Second
	start := time.Now()
	_, err := Open(context.Background(), "postgres://u:p@127.0.0.1:"+strconv.Itoa(port)+"/db?sslmode=disable", cfg)
	if err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Open took %s to fail", took)
	}
}

func TestCheckApplied(t *testing.T) {
	latest := latestVersion()
	var all []int
	for v := 1; v <= latest; v++ {
		all = append(all, v)
	}
	for _, c := range []struct {
		applied []int
		want    error
	}{
		{nil, nil},
		{[]int{1}, nil},
		{all, nil},
		{[]int{latest + 1}, ErrSchemaTooNew},
		{[]int{1, 3}, ErrSchemaUnknown},
		{[]int{0}, ErrSchemaUnknown},
	} {
		if err := checkApplied(c.applied); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("checkApplied(%v) = %v, want %v", c.applied, err, c.want)
		}
	}
}

func TestLoadMigrations_NumberedWithoutGaps(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("SELECT 1")}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": file, "migrations/0003_c.sql": file},
		"bad name": {"migrations/0001_a.sql": file, "migrations/two.sql": file},
		"from 2":   {"migrations/0002_b.sql": file},
		"none":     {},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"migrations/0002_b.sql": file, "migrations/0001_a.sql": file})
	if err != nil || len(ms) != 2 || ms[0].name != "0001_a.sql" {
		t.Fatalf("loadMigrations: %v %v", ms, err)
	}
}
