package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the advisory lock migrating takes: agents of any
// cluster that start together against one database queue on it, and the
// first migrates while the others find nothing left to do. The number is
// "nova" in ASCII followed by 1, unlikely to meet another application's key.
const migrationLockKey int64 = 0x6e6f7661_00000001

// migration is one versioned schema change.
type migration struct {
	version int
	name    string // the file name, for logs
	sql     string
}

// migrations are the schema changes this binary knows, in version order,
// numbered 1, 2, 3... without a gap.
var migrations = mustLoadMigrations(migrationFiles)

// latestVersion is the schema version this binary migrates to.
func latestVersion() int { return migrations[len(migrations)-1].version }

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // the embedded files are wrong: a build-time mistake
	}
	return ms
}

// loadMigrations reads migrations/NNNN_name.sql in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, p := range names {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration %s is not named NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: want version %d (versions run 1, 2, 3... without gaps)", m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("postgres: no migrations embedded")
	}
	return ms, nil
}

// migrate brings the schema to latestVersion. It holds the advisory lock on
// one connection for the whole run, and applies each missing migration in a
// transaction of its own together with its schema_migrations row, so a
// failure leaves the schema at the last version that fully applied.
func (db *DB) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, db.cfg.MigrationTimeout)
	defer cancel()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer func() {
		// The lock and the longer timeouts belong to this session: end
		// them, or end the session, before the pool hands it out again.
		// No arguments: one simple-protocol round trip for the three.
		uctx, ucancel := context.WithTimeout(context.Background(), db.cfg.ConnectTimeout)
		defer ucancel()
		unlock := fmt.Sprintf("SELECT pg_advisory_unlock(%d); RESET statement_timeout; RESET lock_timeout", migrationLockKey)
		if _, err := conn.Exec(uctx, unlock); err != nil {
			conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	long := millis(db.cfg.MigrationTimeout)
	if _, err := conn.Exec(ctx, "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $1, false)", long); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: wait for the migration lock: %w", err)
	}
	if waited := time.Since(start); waited > time.Second {
		db.log.Info("waited for another agent's schema migration", "waited", waited)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if err := checkApplied(applied); err != nil {
		return err
	}
	for _, m := range migrations {
		if slices.Contains(applied, m.version) {
			continue
		}
		t0 := time.Now()
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			tx.Rollback(context.Background())
			return fmt.Errorf("postgres: migrate %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.version); err != nil {
			tx.Rollback(context.Background())
			return fmt.Errorf("postgres: migrate %s: %w", m.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", m.name, err)
		}
		db.log.Info("applied schema migration", "version", m.version, "file", m.name, "took", time.Since(t0))
	}
	return nil
}

// appliedVersions lists schema_migrations in order.
func appliedVersions(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	rows, _ := conn.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("postgres: read schema_migrations: %w", err)
	}
	return vs, nil
}

// checkApplied refuses a database whose applied versions are not 1..k for
// some k this binary knows: newer ones (ErrSchemaTooNew), or a history with
// holes, which no NovaCron makes (ErrSchemaUnknown).
func checkApplied(applied []int) error {
	latest := latestVersion()
	if len(applied) > 0 && slices.Max(applied) > latest {
		return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; upgrade NovaCron", ErrSchemaTooNew, slices.Max(applied), latest)
	}
	for i, v := range applied {
		if v != i+1 {
			return fmt.Errorf("%w: schema_migrations holds versions %v, not 1 to %d in order", ErrSchemaUnknown, applied, len(applied))
		}
	}
	return nil
}

// SchemaVersion is the highest schema version applied to the database, 0
// for a database never migrated.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	var v int
	err := db.read(ctx, func() error {
		return db.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	})
	return v, err
}
