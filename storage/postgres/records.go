package postgres

import (
	"context"
	"encoding/json"
	"time"
)

// Records of what the cluster did: migrations, failovers, long operations
// and alerts. They are never removed (no gone column): they are the history.

// MigrationRow is one move of a VM between hosts.
type MigrationRow struct {
	ID         string
	VMID       string
	Source     string
	Target     string
	Mode       string
	State      string
	Reason     string
	Error      string
	Data       json.RawMessage
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	UpdatedAt  time.Time
	Index      uint64
}

var migrationsTable = newObjectTable("migrations", "id",
	[]string{"vm_id", "source_node", "target_node", "mode", "state", "reason", "error", "data", "created_at", "started_at", "finished_at", "updated_at"}, "")

// UpsertMigration writes a migration record as it is now.
func (t *Tx) UpsertMigration(ctx context.Context, r MigrationRow) error {
	_, err := t.upsertRow(ctx, migrationsTable, r.Index, r.ID, r.VMID, r.Source, r.Target, r.Mode, r.State, r.Reason, r.Error,
		nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.StartedAt), nullTime(r.FinishedAt), nullTime(r.UpdatedAt))
	return err
}

// FailoverRow is one host failure and what the leader did about it.
type FailoverRow struct {
	ID          string
	Node        string
	Cause       string
	VMs         int
	Data        json.RawMessage
	DetectedAt  time.Time
	FencedAt    time.Time
	RestartedAt time.Time
	CompletedAt time.Time
	Index       uint64
}

var failoversTable = newObjectTable("failovers", "id",
	[]string{"node_id", "cause", "vm_count", "data", "detected_at", "fenced_at", "restarted_at", "completed_at"}, "")

// UpsertFailover writes a failover record as it is now.
func (t *Tx) UpsertFailover(ctx context.Context, r FailoverRow) error {
	_, err := t.upsertRow(ctx, failoversTable, r.Index, r.ID, r.Node, r.Cause, r.VMs, nullJSON(r.Data),
		nullTime(r.DetectedAt), nullTime(r.FencedAt), nullTime(r.RestartedAt), nullTime(r.CompletedAt))
	return err
}

// OperationRow is one long operation (a migration, an import, a drain...)
// on ObjectID.
type OperationRow struct {
	ID         string
	Kind       string
	ObjectID   string
	Project    string
	State      string
	Error      string
	Data       json.RawMessage
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	Index      uint64
}

var operationsTable = newObjectTable("operations", "id",
	[]string{"kind", "object_id", "project", "state", "error", "data", "created_at", "updated_at", "finished_at"}, "")

// UpsertOperation writes an operation as it is now.
func (t *Tx) UpsertOperation(ctx context.Context, r OperationRow) error {
	_, err := t.upsertRow(ctx, operationsTable, r.Index, r.ID, r.Kind, r.ObjectID, r.Project, r.State, r.Error,
		nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.UpdatedAt), nullTime(r.FinishedAt))
	return err
}

// AlertRow is one alert: a condition on ObjectID that started, and perhaps
// resolved.
type AlertRow struct {
	ID         string
	Name       string
	Severity   string
	State      string
	ObjectID   string
	Message    string
	Data       json.RawMessage
	StartedAt  time.Time
	ResolvedAt time.Time
	UpdatedAt  time.Time
	Index      uint64
}

var alertsTable = newObjectTable("alerts", "id",
	[]string{"name", "severity", "state", "object_id", "message", "data", "started_at", "resolved_at", "updated_at"}, "")

// UpsertAlert writes an alert as it is now.
func (t *Tx) UpsertAlert(ctx context.Context, r AlertRow) error {
	_, err := t.upsertRow(ctx, alertsTable, r.Index, r.ID, r.Name, r.Severity, r.State, r.ObjectID, r.Message,
		nullJSON(r.Data), nullTime(r.StartedAt), nullTime(r.ResolvedAt), nullTime(r.UpdatedAt))
	return err
}
