// Package cluster is the agent's consensus core: gossip membership
// (hashicorp/memberlist) and the node metadata it carries, Raft (hashicorp/raft)
// setup and bootstrap, leadership (NotifyCh, barrier, establish and revoke,
// hand-over when establishing keeps failing), member reconcile (voters,
// non-voters, dead nodes), write forwarding from followers to the leader over
// the internal API, the batcher, the version gate for rolling upgrades, the
// leader's table of host leases, and the gossip keyring (each node applies the
// replicated keyring to memberlist and saves it in its data dir).
//
// It knows nothing of the leader's decisions (package control) or of the host
// (package host): while this node leads it runs the LeaderWork it was started
// with, and other packages add internal routes with HandleInternal. Nothing
// here changes cluster state except by proposing fsm commands through Raft;
// every node applies them through fsm.FSM.
package cluster
