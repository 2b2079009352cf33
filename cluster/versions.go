package cluster

import (
	"github.com/novacron/novacron/fsm"
)

// Rolling upgrades (Nomad: ServersMeetMinimumVersion). Every node publishes
// its version in gossip, and the leader records it in the node's entry of the
// state. The leader never proposes a command type or field that a node which
// applies the log does not know: such a write is refused with fsm.ErrUpgrade
// (409) until every node runs a version that knows it.

// checkVersions refuses cmd if some node of the cluster is too old for it.
// Almost every command needs only fsm.BaseVersion, which costs a lookup.
func (a *Agent) checkVersions(cmd fsm.Command) error {
	if !fsm.NeedsNewerThanBase(cmd) {
		return nil
	}
	return fsm.CheckVersions(cmd, a.logAppliers())
}

// logAppliers lists the versions of every node that applies the log: every
// node that has not left, whether up or down (one that comes back replays what
// it missed), but not the simulated fleet hosts, which run inside their agent.
func (a *Agent) logAppliers() []fsm.NodeVersion {
	var out []fsm.NodeVersion
	for _, n := range a.fsm.Nodes() {
		if n.Fleet == "" && n.Status != fsm.NodeLeft {
			out = append(out, fsm.NodeVersion{ID: n.Name, Version: n.Version})
		}
	}
	return out
}
