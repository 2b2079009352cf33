// Package scheduler makes the leader's placement decisions. It is pure: it reads
// cluster state through the narrow State interface and returns a Decision that
// says what to do and why, with every candidate it looked at and the reason each
// rejected one was turned down. It never calls the network, the hypervisor or
// Raft; the leader turns a Decision into a command, and the FSM checks it again
// when it applies it.
//
// Placement is deliberately simple for now: among the alive nodes that have the
// memory and vCPUs free, take the one with the most free memory, which spreads a
// small cluster evenly. Scores, constraints and overcommit come with the real
// scheduler.
package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// State is the read-only view of the cluster the scheduler needs. *fsm.FSM
// satisfies it; tests use a small fake.
type State interface {
	// Nodes returns every known node.
	Nodes() []fsm.Node
	// Allocated returns the sum of the specs of the VMs assigned to a node.
	Allocated(nodeID string) fsm.Capacity
}

// Candidate is one node the scheduler looked at, with what it had free.
type Candidate struct {
	NodeID        string `json:"node_id"`
	NodeName      string `json:"node_name"`
	FreeMemoryMiB int64  `json:"free_memory_mib"`
	FreeVCPUs     int    `json:"free_vcpus"`
	// Rejected says why the node cannot take the VM; "" if it can.
	Rejected string `json:"rejected,omitempty"`
}

// Decision is the outcome of a placement, with its explanation.
type Decision struct {
	// Node is the chosen node's ID, "" when no node fits.
	Node     string `json:"node"`
	NodeName string `json:"node_name,omitempty"`
	// Reason is one line for people: why this node, or why none.
	Reason string `json:"reason"`
	// Candidates are every node considered, sorted by name.
	Candidates []Candidate `json:"candidates"`
}

// OK reports whether the decision chose a node.
func (d Decision) OK() bool { return d.Node != "" }

// Place chooses a node for a VM with the given spec: only alive nodes are
// considered, a node needs the VM's memory and vCPUs free beside what is already
// assigned to it, and among those that fit the one with the most free memory
// wins (ties go to the node whose name sorts first, so every leader decides the
// same).
func Place(st State, spec fsm.VMSpec) Decision {
	nodes := st.Nodes()
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].Name != nodes[j].Name {
			return nodes[i].Name < nodes[j].Name
		}
		return nodes[i].ID < nodes[j].ID
	})
	d := Decision{Candidates: make([]Candidate, 0, len(nodes))}
	best, feasible := -1, 0
	for _, n := range nodes {
		a := st.Allocated(n.ID)
		c := Candidate{
			NodeID: n.ID, NodeName: n.Name,
			FreeMemoryMiB: n.Capacity.MemoryMiB - a.MemoryMiB,
			FreeVCPUs:     n.Capacity.VCPUs - a.VCPUs,
		}
		c.Rejected = reject(n, c, spec)
		d.Candidates = append(d.Candidates, c)
		if c.Rejected != "" {
			continue
		}
		feasible++
		// Strictly more: on a tie the earlier node, first by name, stays.
		if best < 0 || c.FreeMemoryMiB > d.Candidates[best].FreeMemoryMiB {
			best = len(d.Candidates) - 1
		}
	}
	if best < 0 {
		d.Reason = noFit(d.Candidates)
		return d
	}
	c := d.Candidates[best]
	d.Node, d.NodeName = c.NodeID, c.NodeName
	d.Reason = fmt.Sprintf("most free memory: %s has %d MiB and %d vCPUs free, vm needs %d MiB and %d vCPUs (%d of %d nodes fit)",
		c.NodeName, c.FreeMemoryMiB, c.FreeVCPUs, spec.MemoryMiB, spec.VCPUs, feasible, len(d.Candidates))
	return d
}

// reject says why node n cannot take spec, or "" if it can.
func reject(n fsm.Node, c Candidate, spec fsm.VMSpec) string {
	switch {
	case n.Status != fsm.NodeAlive:
		return string(n.Status)
	case c.FreeMemoryMiB < spec.MemoryMiB:
		return fmt.Sprintf("%d MiB free, needs %d", c.FreeMemoryMiB, spec.MemoryMiB)
	case c.FreeVCPUs < spec.VCPUs:
		return fmt.Sprintf("%d vCPUs free, needs %d", c.FreeVCPUs, spec.VCPUs)
	}
	for _, nic := range spec.NICs {
		if nic.Network != "" && !slices.Contains(n.Networks, nic.Network) {
			return fmt.Sprintf("no network %q", nic.Network)
		}
	}
	return ""
}

// noFit summarises why every candidate was rejected, in one line.
func noFit(cands []Candidate) string {
	if len(cands) == 0 {
		return "no node fits: the cluster has no nodes"
	}
	parts := make([]string, len(cands))
	for i, c := range cands {
		parts[i] = c.NodeName + ": " + c.Rejected
	}
	return "no node fits: " + strings.Join(parts, "; ")
}
