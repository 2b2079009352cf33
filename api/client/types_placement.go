package client

import "time"

// Placement strategies: binpack fills the busiest node that still fits; spread
// takes the least loaded one.
const (
	StrategyBinpack = "binpack"
	StrategySpread  = "spread"
)

// Group rule kinds in PlacementSpec.Groups.
const (
	GroupAffinity     = "affinity"
	GroupAntiAffinity = "anti-affinity"
)

// PlacementSpec is a VM's placement strategy and constraints.
type PlacementSpec struct {
	// Strategy overrides the cluster's strategy for this VM: binpack or spread.
	Strategy string `json:"strategy,omitempty"`
	// NodeSelector: a node must carry every one of these labels.
	NodeSelector map[string]string `json:"node_selector,omitempty"`
	// Nodes restricts the VM to these nodes (names or IDs).
	Nodes []string `json:"nodes,omitempty"`
	// PreferredNodes are nodes the VM would rather run on.
	PreferredNodes []string `json:"preferred_nodes,omitempty"`
	// Groups are VM–VM affinity and anti-affinity rules.
	Groups []GroupRule `json:"groups,omitempty"`
}

// GroupRule puts a VM in an affinity group (its members run on one node) or an
// anti-affinity group (its members run on different nodes). A hard rule is a
// constraint; a soft one only moves the score.
type GroupRule struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Hard  bool   `json:"hard,omitempty"`
}

// Decision is a placement decision with its explanation: the chosen node, the
// best candidates' scores, and why each rejected node was turned down. Large
// fleets list only the first rejections and count all of them by kind.
type Decision struct {
	// Node is the chosen node's ID, "" when no node fits.
	Node     string `json:"node,omitempty"`
	NodeName string `json:"node_name,omitempty"`
	Strategy string `json:"strategy"`
	// Reason is one line for people: why this node, or why none.
	Reason string `json:"reason"`
	// Considered counts the nodes looked at; Feasible those that could take it.
	Considered int `json:"considered"`
	Feasible   int `json:"feasible"`
	// Candidates are the best-scoring feasible nodes, best first.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Rejected are rejected nodes with the reason; RejectedCounts counts every
	// rejection by kind ("memory", "label", "anti-affinity", ...).
	Rejected       []Rejection    `json:"rejected,omitempty"`
	RejectedCounts map[string]int `json:"rejected_counts,omitempty"`
	At             *time.Time     `json:"at,omitempty"`
}

// Candidate is one feasible node and its score (higher is better), with the
// terms the score was made of.
type Candidate struct {
	NodeID   string             `json:"node_id"`
	NodeName string             `json:"node_name"`
	Score    float64            `json:"score"`
	Parts    map[string]float64 `json:"parts,omitempty"`
}

// Rejection is one node that cannot take the VM, and why.
type Rejection struct {
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
	// Kind is the reason's class, the key of Decision.RejectedCounts.
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// OK reports whether the decision chose a node.
func (d *Decision) OK() bool { return d != nil && d.Node != "" }

// FailoverPlan answers GET /api/v1/nodes/{id}/failover-plan: where each VM of
// the node would go if the node died now, and which would not fit anywhere.
type FailoverPlan struct {
	NodeID   string        `json:"node_id"`
	NodeName string        `json:"node_name"`
	Moves    []PlannedMove `json:"moves"`
	NotFit   []PlannedMove `json:"not_fit"`
}

// PlannedMove is where one VM would go, with the decision behind it.
type PlannedMove struct {
	VMID     string   `json:"vm_id"`
	VMName   string   `json:"vm_name"`
	Node     string   `json:"node,omitempty"`
	NodeName string   `json:"node_name,omitempty"`
	Decision Decision `json:"decision"`
}
