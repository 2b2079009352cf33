package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventRow is one change event of the cluster: the Raft entry that made it
// (Index) and its place among that entry's events (Seq), when (Time; zero
// means the time of the export), what changed and how, and the object as
// JSON (Data; empty for none). Index and Seq together identify it.
type EventRow struct {
	Index    uint64
	Seq      int
	Time     time.Time
	Type     string
	Action   string
	ObjectID string
	Name     string
	Project  string
	Data     json.RawMessage
}

// insertEventsSQL inserts a batch given as one array per column: one
// statement and one round trip for the whole batch, and no temporary table
// to create and drop in the catalog per batch. A row already there (the same
// index and seq) is skipped, which makes a replay harmless.
const insertEventsSQL = `INSERT INTO events (cluster_id, raft_index, seq, time, type, action, object_id, name, project, data)
SELECT $1, u.raft_index, u.seq, coalesce(u.time, now()), u.type, u.action, u.object_id, u.name, u.project, u.data::jsonb
FROM unnest($2::bigint[], $3::integer[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
	AS u(raft_index, seq, time, type, action, object_id, name, project, data)
ON CONFLICT (cluster_id, raft_index, seq) DO NOTHING`

// advanceSQL moves the high water mark forward, never back: an overlapping
// or replayed batch must not make a later leader export again what is there.
const advanceSQL = `INSERT INTO export_state (cluster_id, high_water, updated_at) VALUES ($1, $2, now())
ON CONFLICT (cluster_id) DO UPDATE SET high_water = greatest(export_state.high_water, EXCLUDED.high_water), updated_at = now()`

// ExportEvents stores a batch of cluster clusterID's events and advances its
// high water mark to the batch's highest index, in one transaction:
// either both happen or neither, so HighWater never claims an event that is
// not stored. Events already stored are skipped (at-least-once delivery, no
// duplicates).
func (db *DB) ExportEvents(ctx context.Context, clusterID string, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	return db.WithTx(ctx, clusterID, func(tx *Tx) error { return tx.ExportEvents(ctx, rows) })
}

// ExportEvents is DB.ExportEvents inside a transaction that may also hold
// the upserts of the objects the events changed.
func (t *Tx) ExportEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		idx     = make([]int64, n)
		seq     = make([]int32, n)
		times   = make([]*time.Time, n)
		types   = make([]string, n)
		actions = make([]string, n)
		objects = make([]string, n)
		names   = make([]string, n)
		projs   = make([]string, n)
		data    = make([]*string, n)
		high    uint64
	)
	for i := range rows {
		r := &rows[i]
		v, err := bigint("event index", r.Index)
		if err != nil {
			return err
		}
		if r.Type == "" || r.Seq < 0 || r.Seq > 1<<31-1 {
			return fmt.Errorf("%w: event %d.%d has no type or a bad seq", ErrInvalidRow, r.Index, r.Seq)
		}
		idx[i], seq[i] = v, int32(r.Seq)
		if !r.Time.IsZero() {
			times[i] = &r.Time
		}
		types[i], actions[i], objects[i], names[i], projs[i] = r.Type, r.Action, r.ObjectID, r.Name, r.Project
		if len(r.Data) > 0 {
			s := string(r.Data)
			data[i] = &s
		}
		high = max(high, r.Index)
	}
	if _, err := t.tx.Exec(ctx, insertEventsSQL, t.cluster, idx, seq, times, types, actions, objects, names, projs, data); err != nil {
		return fmt.Errorf("postgres: export %d events: %w", n, err)
	}
	return t.AdvanceHighWater(ctx, high)
}

// AdvanceHighWater records that every event of the cluster up to index is
// stored, when the exporter has gone past Raft entries that made no event
// (so a new leader does not read them again). It never moves the mark back.
func (t *Tx) AdvanceHighWater(ctx context.Context, index uint64) error {
	v, err := bigint("high water", index)
	if err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, advanceSQL, t.cluster, v); err != nil {
		return fmt.Errorf("postgres: advance high water: %w", err)
	}
	return nil
}

// HighWater is the Raft index up to which cluster clusterID's events are
// stored, 0 when none are: a new leader's exporter resumes after it.
func (db *DB) HighWater(ctx context.Context, clusterID string) (uint64, error) {
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	var v int64
	err := db.read(ctx, func() error {
		return db.pool.QueryRow(ctx, "SELECT high_water FROM export_state WHERE cluster_id = $1", clusterID).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: high water: %w", err)
	}
	return uint64(v), nil
}
