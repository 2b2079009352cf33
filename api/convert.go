package api

import (
	"maps"
	"slices"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// Every conversion between the FSM's records (package fsm) and the API's wire
// shapes (package api/client) lives in the convert*.go files, one file per
// group of entities, and nowhere else in the package: handlers call them.
// The client package stands alone (it imports no server package), so every
// shape the API shows is copied here, by a type conversion where the two
// structs have the same fields, field by field elsewhere.
//
// convert_test.go holds the contract: for each pair of types it compares the
// JSON field names, recursively, against a short allow-list of fields that
// differ on purpose (each with its reason), and it runs every converter on a
// value with every field set to check that no field is dropped on the way. A
// field added to one side only, or added to both and forgotten here, fails it.
// (A Go struct conversion ignores tags, so it alone would not catch a renamed
// JSON field.)

// optTime is nil for the zero time, so it is left out of the JSON.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toFSMPlacement converts a requested placement; nil stays nil.
func toFSMPlacement(p *client.PlacementSpec) *fsm.PlacementSpec {
	if p == nil {
		return nil
	}
	out := &fsm.PlacementSpec{
		Strategy: p.Strategy, NodeSelector: maps.Clone(p.NodeSelector),
		Nodes: slices.Clone(p.Nodes), PreferredNodes: slices.Clone(p.PreferredNodes),
	}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, fsm.GroupRule(g))
	}
	return out
}

// toClientPlacement converts a VM's placement; nil stays nil.
func toClientPlacement(p *fsm.PlacementSpec) *client.PlacementSpec {
	if p == nil {
		return nil
	}
	out := &client.PlacementSpec{
		Strategy: p.Strategy, NodeSelector: maps.Clone(p.NodeSelector),
		Nodes: slices.Clone(p.Nodes), PreferredNodes: slices.Clone(p.PreferredNodes),
	}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, client.GroupRule(g))
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
		Considered: d.Considered, Feasible: d.Feasible, RejectedCounts: d.RejectedCounts.Map(),
		At: optTime(d.At),
	}
	for _, c := range d.Candidates {
		out.Candidates = append(out.Candidates, client.Candidate{NodeID: c.NodeID, NodeName: c.NodeName, Score: c.Score, Parts: c.Parts.Map()})
	}
	for _, r := range d.Rejected {
		out.Rejected = append(out.Rejected, client.Rejection(r))
	}
	return &out
}
