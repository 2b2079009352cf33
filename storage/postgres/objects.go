package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The object row types (here, and in vms.go, volumes.go and records.go) are
// what the exporter writes for each kind of object. Each carries Index, the
// Raft index of the change it shows: a row older than the stored one is
// skipped. Data is the whole FSM record as JSON for the fields without a
// column of their own; it must hold no secret (the exporter leaves out
// password hashes and key hashes, and users and API keys have no Data at all
// for that reason). A zero time is stored as NULL. This file holds the
// objects of access (projects, users, API keys) and the hosts.

// ProjectRow is one project.
type ProjectRow struct {
	Name        string
	Description string
	Data        json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Index       uint64
}

var projectsTable = newObjectTable("projects", "name",
	[]string{"description", "data", "created_at", "updated_at"}, "deleted_at")

// UpsertProject writes a project as it is now.
func (t *Tx) UpsertProject(ctx context.Context, r ProjectRow) error {
	_, err := t.upsertRow(ctx, projectsTable, r.Index, r.Name, r.Description, nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.UpdatedAt))
	return err
}

// UserRow is one user, without the password hash.
type UserRow struct {
	Name      string
	Role      string
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Index     uint64
}

var usersTable = newObjectTable("users", "name",
	[]string{"role", "disabled", "created_at", "updated_at"}, "deleted_at")

// UpsertUser writes a user as it is now.
func (t *Tx) UpsertUser(ctx context.Context, r UserRow) error {
	_, err := t.upsertRow(ctx, usersTable, r.Index, r.Name, r.Role, r.Disabled, nullTime(r.CreatedAt), nullTime(r.UpdatedAt))
	return err
}

// APIKeyRow is one API key: who held it, with which rights and when. It has
// no field for the secret or its hash, so none can reach the database.
type APIKeyRow struct {
	ID        string
	Name      string
	Role      string
	User      string
	Project   string
	CreatedAt time.Time
	ExpiresAt time.Time
	Index     uint64
}

var apiKeysTable = newObjectTable("api_keys", "id",
	[]string{"name", "role", "user_name", "project", "created_at", "expires_at"}, "revoked_at")

// UpsertAPIKey writes an API key as it is now; Delete(KindAPIKey) revokes it.
func (t *Tx) UpsertAPIKey(ctx context.Context, r APIKeyRow) error {
	_, err := t.upsertRow(ctx, apiKeysTable, r.Index, r.ID, r.Name, r.Role, r.User, r.Project, nullTime(r.CreatedAt), nullTime(r.ExpiresAt))
	return err
}

// NodeRow is one host.
type NodeRow struct {
	ID          string
	Name        string
	Status      string
	APIAddr     string
	Version     string
	VCPUs       int
	MemoryMiB   int64
	Maintenance bool
	Data        json.RawMessage
	JoinedAt    time.Time
	UpdatedAt   time.Time
	Index       uint64
}

var nodesTable = newObjectTable("nodes", "id",
	[]string{"name", "status", "api_addr", "version", "vcpus", "memory_mib", "maintenance", "data", "joined_at", "updated_at"}, "deleted_at")

// UpsertNode writes a host as it is now.
func (t *Tx) UpsertNode(ctx context.Context, r NodeRow) error {
	_, err := t.upsertRow(ctx, nodesTable, r.Index, r.ID, r.Name, r.Status, r.APIAddr, r.Version, r.VCPUs, r.MemoryMiB, r.Maintenance,
		nullJSON(r.Data), nullTime(r.JoinedAt), nullTime(r.UpdatedAt))
	return err
}

// LiveIDs lists the keys of cluster clusterID's objects of kind that are
// not marked removed: a resync marks removed those the cluster no longer
// has, whose removal was among the changes its export lost.
func (db *DB) LiveIDs(ctx context.Context, clusterID string, kind Kind) ([]string, error) {
	tbl, ok := removable[kind]
	if !ok {
		return nil, fmt.Errorf("%w: no kind %q", ErrInvalidRow, kind)
	}
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	var ids []string
	err := db.read(ctx, func() error {
		rows, err := db.pool.Query(ctx, tbl.live, clusterID)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list live %s: %w", kind, err)
	}
	return ids, nil
}
