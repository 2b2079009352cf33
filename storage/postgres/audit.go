package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditRow is one audit log entry (fsm.AuditEntry's fields): Seq numbers
// the entries of a cluster, Index is the Raft index of the write the
// request made (0 for none).
type AuditRow struct {
	Seq     uint64
	Time    time.Time
	Actor   string
	Via     string
	Project string
	Action  string
	Object  string
	Source  string
	Node    string
	Status  int
	Index   uint64
	Message string
}

// appendAuditSQL inserts one entry; an entry is never changed once written,
// so a replayed one is skipped.
const appendAuditSQL = `INSERT INTO audit_log (cluster_id, seq, time, actor, via, project, action, object, source, node_id, status, raft_index, message)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (cluster_id, seq) DO NOTHING`

// AppendAudit stores audit entries, skipping those already stored; the
// whole slice goes in one round trip.
func (t *Tx) AppendAudit(ctx context.Context, rows []AuditRow) error {
	if len(rows) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, r := range rows {
		seq, err := bigint("audit seq", r.Seq)
		if err != nil {
			return err
		}
		ix, err := bigint("raft index", r.Index)
		if err != nil {
			return err
		}
		if r.Time.IsZero() || r.Action == "" {
			return fmt.Errorf("%w: audit entry %d has no time or action", ErrInvalidRow, r.Seq)
		}
		b.Queue(appendAuditSQL, t.cluster, seq, r.Time, r.Actor, r.Via, r.Project, r.Action, r.Object, r.Source, r.Node, r.Status, ix, r.Message)
	}
	if err := t.tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("postgres: append %d audit entries: %w", len(rows), err)
	}
	return nil
}
