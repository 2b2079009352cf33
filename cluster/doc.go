// Package cluster is the agent's distributed core: gossip membership
// (hashicorp/memberlist) and the node metadata it carries, Raft (hashicorp/raft)
// setup and bootstrap, the leader's loops (member reconcile, voter management,
// placement), write forwarding from followers to the leader, and the host
// reconciler that drives the local hypervisor.
//
// Nothing here changes cluster state except by proposing fsm commands through
// Raft; every node applies them through fsm.FSM.
package cluster
