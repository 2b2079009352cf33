package pgexport

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/novacron/novacron/storage/postgres"
)

// Catalog lists the objects of a kind that PostgreSQL holds as live (not
// marked removed). A resync needs it to mark removed the objects the FSM
// no longer has, whose removal was among the changes the journal lost.
//
// storage/postgres has no such call yet. Until it has (then *postgres.DB
// is a Catalog, and LeaderConfig.Catalog may be left nil), SQLCatalog
// reads the tables itself.
type Catalog interface {
	LiveIDs(ctx context.Context, clusterID string, kind postgres.Kind) ([]string, error)
}

// removableKinds are the kinds a resync sweeps: those postgres.Tx.Delete
// marks removed and the exporter writes. (Snapshots are not exported.)
var removableKinds = []postgres.Kind{
	postgres.KindProject, postgres.KindUser, postgres.KindAPIKey, postgres.KindNode, postgres.KindVM, postgres.KindVolume,
}

// catalogTables are the tables of removableKinds as storage/postgres's
// schema (migrations/0001_objects.sql) has them: table, key, gone mark.
var catalogTables = map[postgres.Kind][3]string{
	postgres.KindProject: {"projects", "name", "deleted_at"},
	postgres.KindUser:    {"users", "name", "deleted_at"},
	postgres.KindAPIKey:  {"api_keys", "id", "revoked_at"},
	postgres.KindNode:    {"nodes", "id", "deleted_at"},
	postgres.KindVM:      {"vms", "id", "deleted_at"},
	postgres.KindVolume:  {"volumes", "id", "deleted_at"},
}

// SQLCatalog is a Catalog over a connection of its own to the database
// the exporter writes: one connection, used only by resyncs, read only.
type SQLCatalog struct {
	pool *pgxpool.Pool
}

// OpenCatalog prepares a SQLCatalog for the database dsn names (the same
// DSN as the exporter's postgres.DB). It connects on first use, so a
// database that is down now does not fail it; Close releases it.
func OpenCatalog(dsn string) (*SQLCatalog, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Say nothing of what the DSN holds: it has the password.
		return nil, fmt.Errorf("pgexport: %w", postgres.ErrInvalidDSN)
	}
	pc.MaxConns, pc.MinConns = 1, 0
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	rp := pc.ConnConfig.RuntimeParams
	if _, ok := rp["application_name"]; !ok {
		rp["application_name"] = "novacron-export"
	}
	if _, ok := rp["statement_timeout"]; !ok {
		rp["statement_timeout"] = "15000"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("pgexport: catalog: %w", err)
	}
	return &SQLCatalog{pool: pool}, nil
}

// Close closes the catalog's connection.
func (c *SQLCatalog) Close() { c.pool.Close() }

// LiveIDs lists the keys of cluster clusterID's objects of kind that are
// not marked removed.
func (c *SQLCatalog) LiveIDs(ctx context.Context, clusterID string, kind postgres.Kind) ([]string, error) {
	t, ok := catalogTables[kind]
	if !ok {
		return nil, fmt.Errorf("pgexport: catalog: no kind %q", kind)
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE cluster_id = $1 AND %s IS NULL", t[1], pgx.Identifier{t[0]}.Sanitize(), t[2])
	rows, err := c.pool.Query(ctx, sql, clusterID)
	if err != nil {
		return nil, fmt.Errorf("pgexport: list live %s: %w", kind, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgexport: list live %s: %w", kind, err)
	}
	return ids, nil
}
