package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Options tune one placement decision.
type Options struct {
	// Exclude holds node IDs never chosen: the VM's current node when it
	// migrates, a dead node in a failover plan. Only true entries count.
	Exclude map[string]bool
	// Unfit holds node IDs never chosen either, each with the reason its
	// rejection (kind excluded) gives: a live migration's target whose
	// published URIs the leader refuses. Only non-empty reasons count.
	Unfit map[string]string
	// At is the decision's time, recorded in fsm.Decision.At.
	At time.Time
}

// Weights of the soft terms of a score, per member of a group on the node (or
// once for a preferred node). The strategy term lies between 0 and 1, so one
// soft preference outweighs any difference of load: a soft rule is a "should",
// broken only when a hard filter leaves no node that honours it.
const (
	softAffinityWeight     = 1.0
	softAntiAffinityWeight = 1.0
	preferredWeight        = 1.0
)

// Names of the score terms in fsm.CandidateScore.Parts.
const (
	partStrategy     = "strategy"
	partAffinity     = "affinity"
	partAntiAffinity = "anti-affinity"
	partPreferred    = "preferred"
)

// scored is one feasible node's score and its terms.
type scored struct {
	node                      int32
	total, strategy           float64
	affinity, anti, preferred float64
	cpu, mem                  float64 // utilisation after placing, 0..1
}

// rejected is one rejection kept for the decision.
type rejected struct {
	node int32
	kind kind
}

// Check runs vm through node nodeID's hard filters only, as for a migration
// to a node the user named: "" when the node passes, else why not. Unlike a
// Place with every other node excluded, the answer is always about that node.
func (c *Cluster) Check(vm *fsm.VM, nodeID string) string {
	i, ok := c.byID[nodeID]
	if !ok || nodeID == "" {
		return fmt.Sprintf("node %q is not in the cluster", nodeID)
	}
	r := c.prepare(vm, nil, nil)
	if k := c.check(&r, i); k != fits {
		return c.explain(&r, i, k)
	}
	return ""
}

// Place chooses a node for vm. Every node goes through the hard filters (see
// the Reject constants for their order); a node that passes them all is
// scored, higher is better:
//
//   - strategy (the VM's Placement.Strategy, else the cluster's): after adding
//     the VM, load is the mean of the node's cpu and memory utilisation; spread
//     scores 1-load (the emptiest node wins), binpack scores load (the fullest
//     that fits wins);
//   - affinity: +1 per member of each of the VM's soft affinity groups there;
//   - anti-affinity: -1 per member of each soft anti-affinity group there;
//   - preferred: +1 on a node of Placement.PreferredNodes.
//
// Groups are known by name: every placed VM that names a group in one of its
// rules is a member, counted on the node it is assigned to (a migrating VM on
// its source). A hard anti-affinity rule rules out every node with a member; a
// hard affinity rule, once any member is placed, rules out every node but the
// one holding the most members (all of them on a tie), whatever that node's
// state, so a group never splits further. Unknown strategies and group kinds
// are ignored.
//
// Equal scores go to the node whose name, then ID, sorts first. The VM does not
// count against itself: on the node the snapshot counts it on its own
// reservation and group membership are free (a VM re-placed on its own node
// fits), unless opts excludes that node. Place does not change the snapshot;
// Assign does.
func (c *Cluster) Place(vm *fsm.VM, opts Options) fsm.Decision {
	r := c.prepare(vm, opts.Exclude, opts.Unfit)
	var (
		top    [fsm.MaxExplained]scored
		nTop   int
		rej    [fsm.MaxExplained]rejected
		nRej   int
		counts [numKinds]int
		first  [numKinds]int32
	)
	for k := range first {
		first[k] = -1
	}
	feasible, bestStrategy := 0, math.Inf(-1)
	var s scored
	for i := int32(0); i < int32(len(c.nodes)); i++ {
		if k := c.check(&r, i); k != fits {
			counts[k]++
			if first[k] < 0 {
				first[k] = i
			}
			if nRej < len(rej) {
				rej[nRej] = rejected{node: i, kind: k}
				nRej++
			}
			continue
		}
		feasible++
		c.score(&r, i, &s)
		if s.strategy > bestStrategy {
			bestStrategy = s.strategy
		}
		// Keep the best MaxExplained, best first; on equal scores the node seen
		// first (by name) stays ahead.
		if nTop == len(top) && s.total <= top[nTop-1].total {
			continue
		}
		j := nTop
		if nTop < len(top) {
			nTop++
		} else {
			j--
		}
		for j > 0 && s.total > top[j-1].total {
			top[j] = top[j-1]
			j--
		}
		top[j] = s
	}

	d := fsm.Decision{Strategy: r.strategy, Considered: len(c.nodes), Feasible: feasible, At: opts.At}
	if nRej > 0 {
		d.Rejected = make([]fsm.Rejection, nRej)
		d.RejectedCounts = make(fsm.KindCounts, 0, 4)
		for n, x := range rej[:nRej] {
			info := &c.info[x.node]
			d.Rejected[n] = fsm.Rejection{NodeID: info.id, NodeName: info.name, Kind: kindNames[x.kind], Reason: c.explain(&r, x.node, x.kind)}
		}
		for k, n := range counts {
			if n > 0 {
				d.RejectedCounts.Add(kindNames[k], n)
			}
		}
	}
	if nTop == 0 {
		d.Reason = c.noFitReason(&r, counts, first, d.Rejected)
		return d
	}
	d.Candidates = make([]fsm.CandidateScore, nTop)
	for n, s := range top[:nTop] {
		info := &c.info[s.node]
		d.Candidates[n] = fsm.CandidateScore{NodeID: info.id, NodeName: info.name, Score: s.total, Parts: r.parts(s)}
	}
	best := top[0]
	d.Node, d.NodeName = c.info[best.node].id, c.info[best.node].name
	d.Reason = c.chosenReason(&r, best, bestStrategy, feasible)
	return d
}

// score scores feasible node i for r into s (through a pointer: the loop
// runs it for every feasible node, and copying the result costs more than
// computing it).
func (c *Cluster) score(r *request, i int32, s *scored) {
	n := &c.nodes[i]
	usedV, usedM := n.usedV, n.usedM
	if i == r.self {
		usedV, usedM = usedV-r.selfV, usedM-r.selfM
	}
	s.node = i
	s.cpu = float64(usedV+r.v) * n.invV
	s.mem = float64(usedM+r.m) * n.invM
	load := (s.cpu + s.mem) / 2
	if r.binpack {
		s.strategy = load
	} else {
		s.strategy = 1 - load
	}
	s.affinity, s.anti, s.preferred = 0, 0, 0
	for g := range r.groups {
		gr := &r.groups[g]
		if gr.rule.Hard {
			continue
		}
		members := float64(gr.cur.count(i))
		if gr.rule.Kind == fsm.GroupAffinity {
			s.affinity += softAffinityWeight * members
		} else {
			s.anti -= softAntiAffinityWeight * members
		}
	}
	if r.preferred != nil && r.preferred.has(i) {
		s.preferred = preferredWeight
	}
	s.total = s.strategy + s.affinity + s.anti + s.preferred
}

// parts lists the terms of s that apply to r: the strategy always, a soft
// term when the VM has a rule of that kind.
func (r *request) parts(s scored) fsm.ScoreParts {
	p := make([]fsm.ScorePart, 0, 4)
	p = append(p, fsm.ScorePart{Name: partStrategy, Value: s.strategy})
	affinity, anti := false, false
	for _, gr := range r.groups {
		switch {
		case gr.rule.Hard:
		case gr.rule.Kind == fsm.GroupAffinity:
			affinity = true
		default:
			anti = true
		}
	}
	if affinity {
		p = append(p, fsm.ScorePart{Name: partAffinity, Value: s.affinity})
	}
	if anti {
		p = append(p, fsm.ScorePart{Name: partAntiAffinity, Value: s.anti})
	}
	if r.preferred != nil {
		p = append(p, fsm.ScorePart{Name: partPreferred, Value: s.preferred})
	}
	return fsm.NewScoreParts(p...)
}

// chosenReason says in one line why best won.
func (c *Cluster) chosenReason(r *request, best scored, bestStrategy float64, feasible int) string {
	name := c.info[best.node].name
	usage := fmt.Sprintf("cpu %.0f%%, memory %.0f%%", best.cpu*100, best.mem*100)
	fit := fmt.Sprintf("%d of %d nodes fit", feasible, len(c.nodes))
	if best.strategy >= bestStrategy {
		if r.binpack {
			return fmt.Sprintf("binpack: %s is the fullest node that fits after placing (%s); %s", name, usage, fit)
		}
		return fmt.Sprintf("spread: %s is least loaded after placing (%s); %s", name, usage, fit)
	}
	terms := []string{fmt.Sprintf("strategy %.2f", best.strategy)}
	for _, t := range []struct {
		name string
		v    float64
	}{{partAffinity, best.affinity}, {partAntiAffinity, best.anti}, {partPreferred, best.preferred}} {
		if t.v != 0 {
			terms = append(terms, fmt.Sprintf("%s %+g", t.name, t.v))
		}
	}
	return fmt.Sprintf("%s: %s scores best with the vm's preferences (%s; %s after placing); %s",
		r.strategy, name, strings.Join(terms, ", "), usage, fit)
}

// noFitReason says in one line why no node fits: every node when there are
// few, else a count per kind with an example of each.
func (c *Cluster) noFitReason(r *request, counts [numKinds]int, first [numKinds]int32, kept []fsm.Rejection) string {
	if len(c.nodes) == 0 {
		return "no node fits: the cluster has no nodes"
	}
	if len(c.nodes) <= 4 && len(kept) == len(c.nodes) {
		parts := make([]string, len(kept))
		for i, x := range kept {
			parts[i] = x.NodeName + ": " + x.Reason
		}
		return "no node fits: " + strings.Join(parts, "; ")
	}
	kinds := make([]kind, 0, numKinds)
	for k, n := range counts {
		if n > 0 {
			kinds = append(kinds, kind(k))
		}
	}
	slices.SortStableFunc(kinds, func(a, b kind) int { return cmp.Compare(counts[b], counts[a]) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		j := first[k]
		parts[i] = fmt.Sprintf("%d %s (e.g. %s: %s)", counts[k], kindNames[k], c.info[j].name, c.explain(r, j, k))
	}
	return fmt.Sprintf("no node fits among %d nodes: %s", len(c.nodes), strings.Join(parts, ", "))
}
