package postgres

import (
	"context"
	"encoding/json"
	"time"
)

// VolumeRow is one data volume; VM and Node say where it is attached and
// whose disk holds it.
type VolumeRow struct {
	ID        string
	Project   string
	Name      string
	Pool      string
	SizeGiB   int64
	VM        string
	Node      string
	Data      json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	Index     uint64
}

var volumesTable = newObjectTable("volumes", "id",
	[]string{"project", "name", "pool", "size_gib", "vm_id", "node_id", "data", "created_at", "updated_at"}, "deleted_at")

// UpsertVolume writes a volume as it is now.
func (t *Tx) UpsertVolume(ctx context.Context, r VolumeRow) error {
	_, err := t.upsertRow(ctx, volumesTable, r.Index, r.ID, r.Project, r.Name, r.Pool, r.SizeGiB, r.VM, r.Node,
		nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.UpdatedAt))
	return err
}

// SnapshotRow is one snapshot of a VM or a volume (ObjectID).
type SnapshotRow struct {
	ID        string
	ObjectID  string
	Project   string
	Name      string
	State     string
	Data      json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	Index     uint64
}

var snapshotsTable = newObjectTable("snapshots", "id",
	[]string{"object_id", "project", "name", "state", "data", "created_at", "updated_at"}, "deleted_at")

// UpsertSnapshot writes a snapshot as it is now.
func (t *Tx) UpsertSnapshot(ctx context.Context, r SnapshotRow) error {
	_, err := t.upsertRow(ctx, snapshotsTable, r.Index, r.ID, r.ObjectID, r.Project, r.Name, r.State,
		nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.UpdatedAt))
	return err
}
