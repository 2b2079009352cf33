package api

import (
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// Conversions of migrations, failovers, settings and the leader's plans (see
// convert.go).

// toClientMigration converts a migration record; names maps node IDs to names
// (a node that is gone shows without a name).
func toClientMigration(m fsm.Migration, names map[string]string) client.Migration {
	out := client.Migration{
		ID: m.ID, VMID: m.VMID, VMName: m.VMName, Mode: m.Mode,
		Source: m.Source, SourceName: names[m.Source], Target: m.Target, TargetName: names[m.Target],
		Options: client.MigrationOptions(m.Options),
		State:   string(m.State), Reason: m.Reason, FromGeneration: m.FromGeneration,
		TargetReady: m.TargetReady, SourceStopped: m.SourceStopped, DisksCopied: m.DisksCopied,
		CancelRequested: m.CancelRequested, Error: m.Error,
		CreatedAt: m.CreatedAt, StartedAt: optTime(m.StartedAt), FinishedAt: optTime(m.FinishedAt),
		UpdatedAt: m.UpdatedAt, Index: m.Index,
	}
	if r := m.Rebalance; r != nil {
		rm := client.RebalanceMove(*r)
		out.Rebalance = &rm
	}
	if p := m.Progress; p != nil {
		mp := client.MigrationProgress(*p)
		out.Progress = &mp
	}
	if r := m.Result; r != nil {
		mr := client.MigrationResult(*r)
		out.Result = &mr
	}
	return out
}

// toFSMMigrationOptions converts the options of a migrate request.
func toFSMMigrationOptions(req client.MigrateRequest) fsm.MigrationOptions {
	return fsm.MigrationOptions(req.Options())
}

// toClientFailover converts a failover record, with the time each step took
// counted from the host's last lease renewal (from the detection when this
// leader never heard from the host).
func toClientFailover(fo fsm.Failover) client.Failover {
	origin := fo.LastRenewal
	if origin.IsZero() {
		origin = fo.DetectedAt
	}
	ms := func(t time.Time) int64 { return t.Sub(origin).Milliseconds() }
	out := client.Failover{
		ID: fo.ID, Node: fo.Node, NodeName: fo.NodeName, Cause: fo.Cause, LastRenewal: optTime(fo.LastRenewal),
		DetectedAt: fo.DetectedAt, FencedAt: fo.FencedAt, RestartedAt: fo.RestartedAt, CompletedAt: optTime(fo.CompletedAt),
		DetectedAfterMs: ms(fo.DetectedAt), FencedAfterMs: ms(fo.FencedAt), RestartedAfterMs: ms(fo.RestartedAt),
		VMs: make([]client.FailoverVM, 0, len(fo.VMs)),
	}
	vm := func(v fsm.FailoverVM) client.FailoverVM {
		cv := client.FailoverVM{VMID: v.VMID, VMName: v.VMName, Node: v.Node, NodeName: v.NodeName, Generation: v.Generation,
			Reason: v.Reason, RunningAt: optTime(v.RunningAt)}
		if !v.RunningAt.IsZero() {
			cv.RunningAfterMs = ms(v.RunningAt)
		}
		return cv
	}
	for _, v := range fo.VMs {
		out.VMs = append(out.VMs, vm(v))
	}
	for _, v := range fo.LeftBehind {
		out.LeftBehind = append(out.LeftBehind, vm(v))
	}
	return out
}

// toClientSettings converts the cluster settings.
func toClientSettings(s fsm.Settings) client.Settings {
	return client.Settings{
		Strategy: s.Strategy, CPUOvercommit: s.CPUOvercommit, MemoryOvercommit: s.MemoryOvercommit,
		MaxMigrationsPerHost: s.MaxMigrationsPerHost, MaxMigrationsPerCluster: s.MaxMigrationsPerCluster,
		Rebalance: client.RebalanceSettings(s.Rebalance),
		Retention: client.RetentionSettings(s.Retention),
		Images:    client.ImageSettings{URLAllow: append([]string{}, s.Images.URLAllow...), MaxBytes: s.Images.MaxBytes},
	}
}

// toFSMSettings converts settings sent by a client.
func toFSMSettings(s client.Settings) fsm.Settings {
	return fsm.Settings{
		Strategy: s.Strategy, CPUOvercommit: s.CPUOvercommit, MemoryOvercommit: s.MemoryOvercommit,
		MaxMigrationsPerHost: s.MaxMigrationsPerHost, MaxMigrationsPerCluster: s.MaxMigrationsPerCluster,
		Rebalance: fsm.RebalanceSettings(s.Rebalance),
		Retention: fsm.RetentionSettings(s.Retention),
		Images:    fsm.ImageSettings{URLAllow: s.Images.URLAllow, MaxBytes: s.Images.MaxBytes},
	}
}

// toClientFailoverPlan converts the leader's failover plan for a node.
func toClientFailoverPlan(p fsm.FailoverPlan) client.FailoverPlan {
	return client.FailoverPlan{NodeID: p.NodeID, NodeName: p.NodeName, Moves: toClientPlannedMoves(p.Moves), NotFit: toClientPlannedMoves(p.NotFit)}
}

func toClientPlannedMoves(ms []fsm.PlannedMove) []client.PlannedMove {
	out := make([]client.PlannedMove, 0, len(ms))
	for _, m := range ms {
		d := m.Decision
		out = append(out, client.PlannedMove{VMID: m.VMID, VMName: m.VMName, Node: m.Node, NodeName: m.NodeName, Decision: *toClientDecision(&d)})
	}
	return out
}

// toClientRebalanceStatus converts the leader's rebalancer view: its plan's
// figures, with the plan's moves as the recommendations. The caller adds the
// recent moves, which come from the state rather than from the leader.
func toClientRebalanceStatus(st fsm.RebalanceStatus) client.RebalanceStatus {
	p := st.Plan
	return client.RebalanceStatus{
		Mode: st.Mode, Leader: st.LeaderName, LeaderID: st.LeaderID, LastRound: optTime(st.LastRound),
		Imbalance: p.Imbalance, Threshold: p.Threshold, Nodes: toClientNodeScores(p.Nodes),
		Recommendations: toClientMoves(p.Moves), Reason: p.Reason, RecentMoves: []client.Migration{},
	}
}

func toClientNodeScores(ns []fsm.NodeScore) []client.NodeScore {
	out := make([]client.NodeScore, 0, len(ns))
	for _, n := range ns {
		out = append(out, client.NodeScore(n))
	}
	return out
}

func toClientMoves(ms []fsm.Move) []client.Move {
	out := make([]client.Move, 0, len(ms))
	for _, m := range ms {
		out = append(out, client.Move{
			VMID: m.VMID, VMName: m.VMName, From: m.From, FromName: m.FromName, To: m.To, ToName: m.ToName,
			Effect: client.RebalanceMove(m.Effect),
		})
	}
	return out
}
