package fsm

import "time"

// The plans the leader's scheduler makes and the API shows: not state (nothing
// here is applied), but decisions with their reasons, which cross the internal
// API from the leader to the node that asked (see package control).

// NodeScore is one node's load as the rebalancer sees it: the fraction of its
// effective CPU and memory in use (0..1) and the larger of the two.
type NodeScore struct {
	NodeID   string  `json:"node_id"`
	NodeName string  `json:"node_name"`
	CPU      float64 `json:"cpu"`
	Memory   float64 `json:"memory"`
	Load     float64 `json:"load"`
	VMs      int     `json:"vms"`
}

// Move is one migration the rebalancer proposes, with its expected effect.
type Move struct {
	VMID     string        `json:"vm_id"`
	VMName   string        `json:"vm_name"`
	From     string        `json:"from"`
	FromName string        `json:"from_name"`
	To       string        `json:"to"`
	ToName   string        `json:"to_name"`
	Effect   RebalanceMove `json:"effect"`
	// Reason is one line for people, fit for the migration record's Reason.
	Reason string `json:"reason"`
}

// RebalancePlan is one rebalancing round's view: the imbalance (standard
// deviation of node loads), every node's score, and the moves that would lower
// the imbalance, best first, at most MaxMoves of them.
type RebalancePlan struct {
	Imbalance float64     `json:"imbalance"`
	Threshold float64     `json:"threshold"`
	Nodes     []NodeScore `json:"nodes"`
	Moves     []Move      `json:"moves"`
	// Reason says in one line why there are no moves, or what they achieve.
	Reason string `json:"reason"`
}

// PlannedMove is where one VM would go if its node died now.
type PlannedMove struct {
	VMID     string   `json:"vm_id"`
	VMName   string   `json:"vm_name"`
	Node     string   `json:"node,omitempty"`
	NodeName string   `json:"node_name,omitempty"`
	Decision Decision `json:"decision"`
}

// FailoverPlan answers "if this node died now, where would each of its VMs go,
// and which would not fit".
type FailoverPlan struct {
	NodeID   string        `json:"node_id"`
	NodeName string        `json:"node_name"`
	Moves    []PlannedMove `json:"moves"`
	NotFit   []PlannedMove `json:"not_fit"`
}

// RebalanceStatus is the leader's rebalancer view, for GET /api/v1/rebalance:
// the mode, the last round's plan (its moves are the recommendations), and when
// that round ran.
type RebalanceStatus struct {
	Mode       string        `json:"mode"`
	LeaderID   string        `json:"leader_id"`
	LeaderName string        `json:"leader_name"`
	LastRound  time.Time     `json:"last_round,omitempty"`
	Plan       RebalancePlan `json:"plan"`
}

// VMLoad is one VM's recent use of its host, as the host measured it.
type VMLoad struct {
	// CPUCores is the CPU time the guest used per second (1.5 = one and a half
	// host cores busy).
	CPUCores  float64 `json:"cpu_cores"`
	MemoryMiB int64   `json:"memory_mib"`
}

// NodeLoad is a node's recent load, kept by the leader from host reports (not in
// Raft). VMs missing from VMs count with no CPU and their spec's memory.
type NodeLoad struct {
	VMs map[string]VMLoad `json:"vms"`
	At  time.Time         `json:"at"`
}

// LoadReport is what a host sends the leader every load interval (POST
// /internal/v1/load): its VMs' recent load, by VM ID.
type LoadReport struct {
	Node string            `json:"node"`
	VMs  map[string]VMLoad `json:"vms"`
}
