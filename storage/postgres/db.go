package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is an open, migrated NovaCron database. It is safe for concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	cfg   Config
	log   *slog.Logger
	parts partitionCache
}

// Open connects to the database dsn names, checks that it answers, and
// migrates its schema to this binary's version (see migrate.go). It fails
// with ErrSchemaTooNew when a newer NovaCron migrated the database already.
// ctx bounds the connection and the migration.
func Open(ctx context.Context, dsn string, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidDSN)
	}
	pc, err := poolConfig(dsn, cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, cfg: cfg, log: cfg.Logger.With("component", "postgres")}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// poolConfig parses dsn and applies cfg where the DSN says nothing.
func poolConfig(dsn string, cfg Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN, masking the password only on a
		// best-effort basis: say nothing of what it holds.
		return nil, fmt.Errorf("%w: it cannot be parsed (want postgres://user:password@host:port/database?sslmode=... or key=value pairs)", ErrInvalidDSN)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		pc.MaxConns = cfg.MaxConns
	}
	pc.MinConns = 0
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	rp := pc.ConnConfig.RuntimeParams
	setDefault := func(k, v string) {
		if _, ok := rp[k]; !ok {
			rp[k] = v
		}
	}
	setDefault("application_name", "novacron")
	setDefault("statement_timeout", millis(cfg.StatementTimeout))
	setDefault("lock_timeout", millis(cfg.StatementTimeout))
	// A transaction left open (a bug, a hung caller) must not hold its locks
	// and a connection for ever.
	setDefault("idle_in_transaction_session_timeout", millis(2*cfg.CallTimeout))
	return pc, nil
}

// millis is d as PostgreSQL reads a setting in milliseconds.
func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// Close closes every connection; calls after it fail.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers, for a health check.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	return db.read(ctx, func() error { return db.pool.Ping(ctx) })
}

// callCtx bounds a call whose ctx has no deadline by Config.CallTimeout.
func (db *DB) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.cfg.CallTimeout)
}

// Tx is one transaction of writes for one cluster (see WithTx): object
// upserts, events and the export position written together are seen
// together or not at all.
type Tx struct {
	tx      pgx.Tx
	cluster string
}

// WithTx runs fn in a transaction whose writes belong to the cluster
// clusterID, and commits when fn returns nil. An error rolls everything
// back, and the caller retries the whole batch later, which the idempotent
// writes allow. A connection broken by a database restart is replaced before
// fn runs (retry.go).
func (db *DB) WithTx(ctx context.Context, clusterID string, fn func(*Tx) error) error {
	if clusterID == "" {
		return fmt.Errorf("%w: empty cluster ID", ErrInvalidRow)
	}
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		return fn(&Tx{tx: tx, cluster: clusterID})
	})
}

// bigint converts a Raft index or sequence number to a bigint column's
// int64; no real index comes near the limit, but a corrupt one must not wrap
// to a negative number that sorts first.
func bigint(what string, v uint64) (int64, error) {
	if v > 1<<63-1 {
		return 0, fmt.Errorf("%w: %s %d is beyond a bigint", ErrInvalidRow, what, v)
	}
	return int64(v), nil
}

// nullTime stores a zero time as NULL: the FSM's "not yet" (a migration not
// finished, a key that does not expire).
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullJSON stores empty JSON as NULL, and passes the rest as text for the
// server to parse into jsonb (so invalid JSON fails there, loudly).
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
