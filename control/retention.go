package control

import (
	"context"
	"time"

	"github.com/novacron/novacron/fsm"
)

// retentionLoop removes the history past the cluster's retention settings
// (fsm.RetentionSettings), once per RetentionInterval while this node leads:
// finished migrations and failovers beyond the count or the age kept, expired
// tokens, and nodes that left or stayed failed past the reap interval
// (Consul's reconcile reap). The leader decides by its own clock and names
// what goes; Apply only deletes named records that may go.
func (c *Controller) retentionLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.RetentionInterval)
	defer tick.Stop()
	for {
		c.retain(ctx, time.Now().UTC())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// retain writes one round of retention decisions taken at now.
func (c *Controller) retain(ctx context.Context, now time.Time) {
	purges, removes := retentionPlan(now, c.cfg.NodeID, c.state)
	for _, p := range purges {
		if !c.applyLogged(ctx, &p) {
			return
		}
		c.logger.Info("purged history past retention", "migrations", len(p.MigrationIDs),
			"failovers", len(p.FailoverIDs), "tokens", len(p.TokenIDs))
	}
	for _, r := range removes {
		if c.applyLogged(ctx, &r) {
			c.logger.Info("reaped node past the reap interval", "node_id", r.ID)
		}
	}
}

// retentionPlan is what is past retention at now: the purges, each naming at
// most fsm.MaxPurgeIDs records, and the nodes to remove. A node is reaped only
// when no VM is assigned to it and no migration or open failover involves it
// (a VM that could not fail over stays on its dead node, so the node and the
// VM stay visible until an operator deals with them), and never the leader
// itself.
func retentionPlan(now time.Time, self string, st State) ([]fsm.PurgeRecords, []fsm.RemoveNode) {
	set := st.Settings().WithDefaults().Retention
	oldest := now.Add(-set.FinishedMaxAge())
	var ids []purgeID

	kept := 0
	for _, m := range st.Migrations() { // newest first
		if !m.State.Final() {
			continue
		}
		if kept < set.KeepFinished && m.FinishedAt.After(oldest) {
			kept++
			continue
		}
		ids = append(ids, purgeID{kind: purgeMigration, id: m.ID})
	}
	kept = 0
	busy := map[string]bool{}           // nodes an open failover or migration involves
	for _, fo := range st.Failovers() { // newest first
		if fo.CompletedAt.IsZero() {
			busy[fo.Node] = true
			continue
		}
		if kept < set.KeepFinished && fo.CompletedAt.After(oldest) {
			kept++
			continue
		}
		ids = append(ids, purgeID{kind: purgeFailover, id: fo.ID})
	}
	for _, t := range st.Tokens() {
		if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now) {
			ids = append(ids, purgeID{kind: purgeToken, id: t.ID})
		}
	}

	for _, m := range st.ActiveMigrations() {
		busy[m.Source], busy[m.Target] = true, true
	}
	var removes []fsm.RemoveNode
	reapBefore := now.Add(-set.NodeReap())
	for _, n := range st.Nodes() {
		if n.ID == self || busy[n.ID] || (n.Status != fsm.NodeLeft && n.Status != fsm.NodeFailed) {
			continue
		}
		if n.StatusSince.After(reapBefore) || len(st.VMsOnNode(n.ID)) > 0 {
			continue
		}
		removes = append(removes, fsm.RemoveNode{ID: n.ID})
	}
	return chunkPurges(ids, now), removes
}

// purgeID is one record a purge names.
type purgeID struct {
	kind int
	id   string
}

const (
	purgeMigration = iota
	purgeFailover
	purgeToken
)

// chunkPurges packs ids into purges of at most fsm.MaxPurgeIDs each.
func chunkPurges(ids []purgeID, at time.Time) []fsm.PurgeRecords {
	var out []fsm.PurgeRecords
	for len(ids) > 0 {
		n := min(len(ids), fsm.MaxPurgeIDs)
		p := fsm.PurgeRecords{At: at}
		for _, r := range ids[:n] {
			switch r.kind {
			case purgeMigration:
				p.MigrationIDs = append(p.MigrationIDs, r.id)
			case purgeFailover:
				p.FailoverIDs = append(p.FailoverIDs, r.id)
			case purgeToken:
				p.TokenIDs = append(p.TokenIDs, r.id)
			}
		}
		out = append(out, p)
		ids = ids[n:]
	}
	return out
}
