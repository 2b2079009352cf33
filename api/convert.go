package api

import (
	"maps"
	"slices"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// Conversions between the FSM's records and the wire shapes of api/client. The
// client package stands alone (it imports no server package), so every shape
// the API shows is copied here: by a type conversion where the two structs
// have the same fields (a field added to one side then fails to compile here,
// rather than go missing from the API), field by field elsewhere.

func toFSMPlacement(p *client.PlacementSpec) *fsm.PlacementSpec {
	if p == nil {
		return nil
	}
	out := &fsm.PlacementSpec{
		Strategy: p.Strategy, NodeSelector: maps.Clone(p.NodeSelector),
		Nodes: slices.Clone(p.Nodes), PreferredNodes: slices.Clone(p.PreferredNodes),
	}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, fsm.GroupRule{Group: g.Group, Kind: g.Kind, Hard: g.Hard})
	}
	return out
}

func toClientPlacement(p *fsm.PlacementSpec) *client.PlacementSpec {
	if p == nil {
		return nil
	}
	out := &client.PlacementSpec{
		Strategy: p.Strategy, NodeSelector: maps.Clone(p.NodeSelector),
		Nodes: slices.Clone(p.Nodes), PreferredNodes: slices.Clone(p.PreferredNodes),
	}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, client.GroupRule{Group: g.Group, Kind: g.Kind, Hard: g.Hard})
	}
	return out
}

// toClientDecision converts a decision; nil stays nil.
func toClientDecision(d *fsm.Decision) *client.Decision {
	if d == nil {
		return nil
	}
	out := client.Decision{
		Node: d.Node, NodeName: d.NodeName, Strategy: d.Strategy, Reason: d.Reason,
		Considered: d.Considered, Feasible: d.Feasible, RejectedCounts: maps.Clone(d.RejectedCounts),
		At: optTime(d.At),
	}
	for _, c := range d.Candidates {
		out.Candidates = append(out.Candidates, client.Candidate{NodeID: c.NodeID, NodeName: c.NodeName, Score: c.Score, Parts: maps.Clone(c.Parts)})
	}
	for _, r := range d.Rejected {
		out.Rejected = append(out.Rejected, client.Rejection{NodeID: r.NodeID, NodeName: r.NodeName, Kind: r.Kind, Reason: r.Reason})
	}
	return &out
}

// toClientMigration converts a migration record; names maps node IDs to names
// (a node that is gone shows without a name).
func toClientMigration(m fsm.Migration, names map[string]string) client.Migration {
	out := client.Migration{
		ID: m.ID, VMID: m.VMID, VMName: m.VMName, Mode: m.Mode,
		Source: m.Source, SourceName: names[m.Source], Target: m.Target, TargetName: names[m.Target],
		Options: client.MigrationOptions(m.Options),
		State:   string(m.State), Reason: m.Reason, FromGeneration: m.FromGeneration,
		TargetReady: m.TargetReady, CancelRequested: m.CancelRequested, Error: m.Error,
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

func toClientSettings(s fsm.Settings) client.Settings {
	r := s.Rebalance
	return client.Settings{
		Strategy: s.Strategy, CPUOvercommit: s.CPUOvercommit, MemoryOvercommit: s.MemoryOvercommit,
		MaxMigrationsPerHost: s.MaxMigrationsPerHost, MaxMigrationsPerCluster: s.MaxMigrationsPerCluster,
		Rebalance: client.RebalanceSettings(r),
	}
}

func toFSMSettings(s client.Settings) fsm.Settings {
	r := s.Rebalance
	return fsm.Settings{
		Strategy: s.Strategy, CPUOvercommit: s.CPUOvercommit, MemoryOvercommit: s.MemoryOvercommit,
		MaxMigrationsPerHost: s.MaxMigrationsPerHost, MaxMigrationsPerCluster: s.MaxMigrationsPerCluster,
		Rebalance: fsm.RebalanceSettings(r),
	}
}

func toClientFailoverPlan(p fsm.FailoverPlan) client.FailoverPlan {
	out := client.FailoverPlan{NodeID: p.NodeID, NodeName: p.NodeName, Moves: toClientPlannedMoves(p.Moves), NotFit: toClientPlannedMoves(p.NotFit)}
	return out
}

func toClientPlannedMoves(ms []fsm.PlannedMove) []client.PlannedMove {
	out := make([]client.PlannedMove, 0, len(ms))
	for _, m := range ms {
		d := m.Decision
		out = append(out, client.PlannedMove{VMID: m.VMID, VMName: m.VMName, Node: m.Node, NodeName: m.NodeName, Decision: *toClientDecision(&d)})
	}
	return out
}

func toClientNodeScores(ns []fsm.NodeScore) []client.NodeScore {
	out := make([]client.NodeScore, 0, len(ns))
	for _, n := range ns {
		out = append(out, client.NodeScore{NodeID: n.NodeID, NodeName: n.NodeName, CPU: n.CPU, Memory: n.Memory, Load: n.Load, VMs: n.VMs})
	}
	return out
}

func toClientMoves(ms []fsm.Move) []client.Move {
	out := make([]client.Move, 0, len(ms))
	for _, m := range ms {
		e := m.Effect
		out = append(out, client.Move{
			VMID: m.VMID, VMName: m.VMName, From: m.From, FromName: m.FromName, To: m.To, ToName: m.ToName,
			Effect: client.RebalanceMove(e),
		})
	}
	return out
}

// optTime is nil for the zero time, so it is left out of the JSON.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
