package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// VMRow is one VM: its identity, where it runs, its state, and Config, its
// configuration (the spec the user asked for) as JSON, whose versions
// vm_config_history keeps. UpdatedAt is when this version was made; a new
// configuration is valid from then.
type VMRow struct {
	ID           string
	Project      string
	Name         string
	Node         string
	State        string
	DesiredState string
	VCPUs        int
	MemoryMiB    int64
	DiskGiB      int64
	Generation   uint64
	Config       json.RawMessage
	Data         json.RawMessage
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Index        uint64
}

var vmsTable = newObjectTable("vms", "id",
	[]string{"project", "name", "node_id", "state", "desired_state", "vcpus", "memory_mib", "disk_gib", "generation", "data", "created_at", "updated_at"}, "deleted_at")

// UpsertVM writes a VM as it is now and, when its configuration differs from
// the current version in vm_config_history (compared as jsonb, so key order
// and spacing do not count), ends that version at UpdatedAt and opens a new
// one. A state change alone (started, moved) makes no new version. A row
// older than the stored one changes nothing.
func (t *Tx) UpsertVM(ctx context.Context, r VMRow) error {
	gen, err := bigint("generation", r.Generation)
	if err != nil {
		return err
	}
	if len(r.Config) == 0 || r.UpdatedAt.IsZero() {
		return fmt.Errorf("%w: VM %s has no config or no update time", ErrInvalidRow, r.ID)
	}
	written, err := t.upsertRow(ctx, vmsTable, r.Index, r.ID, r.Project, r.Name, r.Node, r.State, r.DesiredState,
		r.VCPUs, r.MemoryMiB, r.DiskGiB, gen, nullJSON(r.Data), nullTime(r.CreatedAt), nullTime(r.UpdatedAt))
	if err != nil || !written {
		return err
	}
	return t.recordConfig(ctx, r.ID, r.Config, r.UpdatedAt, r.Index)
}

// recordConfig opens a new configuration version of vmID unless config is
// the current one. The current row is locked first, so two exporters (an
// old leader's last batch, a new leader's first) cannot both open one.
func (t *Tx) recordConfig(ctx context.Context, vmID string, config json.RawMessage, at time.Time, index uint64) error {
	var (
		version int
		same    bool
		from    time.Time
	)
	err := t.tx.QueryRow(ctx, `SELECT version, config = $3::jsonb, valid_from FROM vm_config_history
		WHERE cluster_id = $1 AND vm_id = $2 AND valid_to IS NULL FOR UPDATE`,
		t.cluster, vmID, string(config)).Scan(&version, &same, &from)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// The first version, or the VM was deleted and is back; number on.
		if err := t.tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM vm_config_history WHERE cluster_id = $1 AND vm_id = $2`,
			t.cluster, vmID).Scan(&version); err != nil {
			return fmt.Errorf("postgres: VM %s config history: %w", vmID, err)
		}
	case err != nil:
		return fmt.Errorf("postgres: VM %s config history: %w", vmID, err)
	case same:
		return nil
	default:
		if at.Before(from) {
			at = from // a clock that stepped back must not make an inverted range
		}
		if _, err := t.tx.Exec(ctx, `UPDATE vm_config_history SET valid_to = $4
			WHERE cluster_id = $1 AND vm_id = $2 AND version = $3`, t.cluster, vmID, version, at); err != nil {
			return fmt.Errorf("postgres: VM %s config history: %w", vmID, err)
		}
	}
	ix, _ := bigint("raft index", index) // checked by the upsert
	if _, err := t.tx.Exec(ctx, `INSERT INTO vm_config_history (cluster_id, vm_id, version, valid_from, config, raft_index)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6)`, t.cluster, vmID, version+1, at, string(config), ix); err != nil {
		return fmt.Errorf("postgres: VM %s config history: %w", vmID, err)
	}
	return nil
}

// closeConfig ends the current configuration version of a deleted VM.
func (t *Tx) closeConfig(ctx context.Context, vmID string, at time.Time) error {
	if _, err := t.tx.Exec(ctx, `UPDATE vm_config_history SET valid_to = greatest(valid_from, $3)
		WHERE cluster_id = $1 AND vm_id = $2 AND valid_to IS NULL`, t.cluster, vmID, at); err != nil {
		return fmt.Errorf("postgres: VM %s config history: %w", vmID, err)
	}
	return nil
}
