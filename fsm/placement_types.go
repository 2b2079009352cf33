package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// Placement strategies. binpack fills the busiest node that still fits, leaving
// whole nodes free for big VMs; spread takes the least loaded node, so a host
// failure hits fewer VMs.
const (
	StrategyBinpack = "binpack"
	StrategySpread  = "spread"
)

// Group rule kinds: VMs naming the same affinity group run on one node; VMs
// naming the same anti-affinity group run on different nodes.
const (
	GroupAffinity     = "affinity"
	GroupAntiAffinity = "anti-affinity"
)

// PlacementSpec is a VM's placement strategy and constraints.
type PlacementSpec struct {
	// Strategy overrides the cluster's strategy for this VM: binpack or spread.
	Strategy string `json:"strategy,omitempty"`
	// NodeSelector: a node must carry every one of these labels (hard).
	NodeSelector map[string]string `json:"node_selector,omitempty"`
	// Nodes restricts the VM to these nodes (names or IDs; hard VM–host affinity).
	Nodes []string `json:"nodes,omitempty"`
	// PreferredNodes are nodes the VM would rather run on (soft VM–host affinity).
	PreferredNodes []string `json:"preferred_nodes,omitempty"`
	// Groups are VM–VM affinity and anti-affinity rules.
	Groups []GroupRule `json:"groups,omitempty"`
}

// GroupRule puts a VM in an affinity or anti-affinity group. A hard rule is a
// constraint; a soft one only moves the score.
type GroupRule struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Hard  bool   `json:"hard,omitempty"`
}

// Decision is a placement decision with its explanation: the chosen node, the
// best candidates' scores, and why each rejected node was turned down. Large
// fleets keep the first MaxExplained rejections and count the rest by reason.
type Decision struct {
	// Node is the chosen node's ID; empty when no node fits.
	Node     string `json:"node,omitempty"`
	NodeName string `json:"node_name,omitempty"`
	Strategy string `json:"strategy"`
	// Reason is one line for people: why this node, or why none.
	Reason string `json:"reason"`
	// Considered counts the nodes looked at; Feasible those that could take it.
	Considered int `json:"considered"`
	Feasible   int `json:"feasible"`
	// Candidates are the best-scoring feasible nodes, best first.
	Candidates []CandidateScore `json:"candidates,omitempty"`
	// Rejected are rejected nodes with their reason; RejectedCounts counts every
	// rejection by kind of reason ("memory", "label", "anti-affinity", ...).
	Rejected       []Rejection `json:"rejected,omitempty"`
	RejectedCounts KindCounts  `json:"rejected_counts,omitempty"`
	At             time.Time   `json:"at"`
}

// MaxExplained bounds the candidates and rejections a Decision lists, so a
// decision over 10,000 nodes stays small in the log (every placement carries
// its decision) and in memory (the state keeps one per VM). Clusters of up
// to this many nodes see every node explained. Five, as Nomad keeps the
// scores of its five best nodes per allocation; eight made the decisions of
// 100,000 VMs 30 MB larger and each placement's entry a fifth larger
// (issue 12).
const MaxExplained = 5

// CandidateScore is one feasible node and its score (higher is better), with the
// parts the score was made of.
type CandidateScore struct {
	NodeID   string  `json:"node_id"`
	NodeName string  `json:"node_name"`
	Score    float64 `json:"score"`
	// Parts names each term of the score ("strategy", "affinity", ...).
	Parts ScoreParts `json:"parts,omitempty"`
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

// NodeList is one of a placement's lists of node names or IDs, with the name
// of its field for error messages.
type NodeList struct {
	Field string
	Refs  []string
}

// NodeLists returns the placement's node lists in a fixed order, so that the
// same bad input always gets the same error.
func (p *PlacementSpec) NodeLists() []NodeList {
	return []NodeList{{"placement.nodes", p.Nodes}, {"placement.preferred_nodes", p.PreferredNodes}}
}
