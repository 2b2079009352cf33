package pgexport

import (
	"context"
	"fmt"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage/postgres"
)

// auditChunk is how many audit entries one AppendAudit of a resync sends.
const auditChunk = 1000

// resync writes every object the FSM has, marks removed those PostgreSQL
// still holds as live that the FSM no longer has (with a Catalog), copies
// the audit entries the FSM keeps, and, for a gap, records a "gap" event at
// the gap's floor and moves the high water mark there: all in one
// transaction. It returns the new mark (hw without a gap: the first sync
// of a cluster exports no event).
func (l *Leader) resync(ctx context.Context, clusterID string, hw uint64, gap *eventlog.Gap) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, resyncTimeout)
	defer cancel()
	// What PostgreSQL holds is read first: an object written after the
	// read is one the FSM has, and is upserted below anyway.
	live := map[postgres.Kind][]string{}
	if l.cfg.Catalog != nil {
		for _, kind := range removableKinds {
			ids, err := l.cfg.Catalog.LiveIDs(ctx, clusterID, kind)
			if err != nil {
				return 0, err
			}
			live[kind] = ids
		}
	}
	st, now := l.cfg.State, l.cfg.Now()
	w := newWriter(st, now)
	has := map[postgres.Kind]map[string]bool{}
	for _, k := range removableKinds {
		has[k] = map[string]bool{}
	}
	for _, vm := range st.VMs() {
		w.upsertVM(vm)
		has[postgres.KindVM][vm.ID] = true
	}
	for _, n := range st.Nodes() {
		w.upsertNode(n)
		has[postgres.KindNode][n.ID] = true
	}
	for _, p := range st.Projects() {
		w.upsertProject(p)
		has[postgres.KindProject][p.Name] = true
	}
	for _, u := range st.Users() {
		w.upsertUser(u)
		has[postgres.KindUser][u.Name] = true
	}
	for _, t := range st.Tokens() {
		w.upsertAPIKey(t)
		has[postgres.KindAPIKey][t.ID] = true
	}
	for _, v := range st.Volumes() {
		w.volume(v)
		has[postgres.KindVolume][v.ID] = true
	}
	for _, m := range st.Migrations() {
		w.upsertMigration(m)
	}
	for _, f := range st.Failovers() {
		w.upsertFailover(f)
	}
	for _, a := range st.Alerts() {
		w.upsertAlert(a)
	}
	for _, img := range st.Images() {
		w.upsertImage(img)
	}
	removed := 0
	for kind, ids := range live {
		for _, id := range ids {
			if !has[kind][id] {
				w.gone(kind, id, now)
				removed++
			}
		}
	}
	audit := st.Audit(fsm.AuditQuery{Max: fsm.MaxAuditEntries})
	for i := 0; i < len(audit); i += auditChunk {
		rows := make([]postgres.AuditRow, 0, auditChunk)
		for _, e := range audit[i:min(i+auditChunk, len(audit))] {
			rows = append(rows, auditRow(e, now))
		}
		w.auditRows(rows)
	}

	mark := hw
	var events []postgres.EventRow
	if gap != nil {
		mark = max(hw, gap.Floor)
		events = append(events, l.gapRow(gap, w.index))
	}
	err := l.cfg.DB.WithTx(ctx, clusterID, func(tx *postgres.Tx) error {
		if err := w.ops.apply(ctx, tx); err != nil {
			return err
		}
		if err := tx.ExportEvents(ctx, events); err != nil {
			return err
		}
		return tx.AdvanceHighWater(ctx, mark)
	})
	if err != nil {
		return 0, err
	}
	l.tr.update(func(s *Status) { s.Resyncs++; s.Exported += uint64(len(events)) })
	args := []any{"index", w.index, "writes", len(w.ops), "marked_removed", removed, "high_water", mark}
	if gap != nil {
		args = append(args, "gap_after", gap.After, "gap_floor", gap.Floor)
	}
	if l.cfg.Catalog == nil {
		args = append(args, "warning", "no catalog: objects removed meanwhile still show as live")
	}
	l.log.Info("PostgreSQL export: resynchronised every object from the cluster's state", args...)
	return mark, nil
}

// gapRow is the event that says which changes the events table misses.
func (l *Leader) gapRow(gap *eventlog.Gap, index uint64) postgres.EventRow {
	msg := fmt.Sprintf("the changes after Raft index %d up to %d were no longer in the leader's journal when they were to be exported: "+
		"their events are missing here; every object was written again from the cluster's state at index %d", gap.After, gap.Floor, index)
	if l.cfg.Catalog == nil {
		msg += ", but objects removed among those changes could not be marked removed (no catalog)"
	}
	ev := eventlog.Event{Type: "gap", Action: "gap", Message: msg}
	return postgres.EventRow{Index: gap.Floor, Seq: 0, Time: l.cfg.Now(), Type: ev.Type, Action: ev.Action, Data: jsonOf(ev)}
}
