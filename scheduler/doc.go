// Package scheduler makes the leader's placement decisions. It is pure: it takes
// a snapshot of the cluster (a Cluster, built once per round from the FSM's
// nodes, VMs, incoming migration reservations and settings) and returns
// decisions that say what to do and why, with the best candidates' scores and
// the reason each rejected node was turned down. It never calls the network, the
// hypervisor or Raft and reads no clock: times come in as arguments. The leader
// turns a decision into a command, and the FSM checks the fit again when it
// applies it, so a stale snapshot costs a retry, never a wrong placement.
//
// Three kinds of decisions are made here:
//
//   - Place chooses a node for one VM: hard filters (status, maintenance,
//     networks, resources with overcommit, node selector, node list, hard
//     affinity and anti-affinity groups) and then a score (the spread or binpack
//     strategy plus the VM's soft preferences). Assign records a decision in the
//     snapshot so the next Place of the same round sees it.
//   - FailoverPlan answers "where would this node's VMs go if it died now".
//   - PlanRebalance proposes the migrations that lower the spread of node loads
//     the most, greedily, like VMware DRS.
//
// A Cluster is not safe for concurrent use; build one per round (or per
// goroutine) with NewCluster or FromState.
package scheduler
