package control

import (
	"github.com/novacron/novacron/fsm"
)

// A live migration hands the target node's published URIs to the source's
// hypervisor, and every source host refuses a target whose URIs break its
// peer URI policy (package peeruri; the host's migrator). The leader judges
// targets by its own policy too, so that it never chooses such a node, and a
// drain does not start, again and again, a migration the source will refuse;
// a user who names one gets the reason at once. A cold migration opens no
// URI and is not concerned. Every node should run the same policy
// (--libvirt-peer-schemes): a source judges by its own.

// unfitTargets lists the nodes no live migration may go to, with why.
func (c *Controller) unfitTargets() map[string]string {
	out := map[string]string{}
	for _, n := range c.state.Nodes() {
		if err := c.cfg.PeerURIs.Check(n); err != nil {
			out[n.ID] = err.Error()
		}
	}
	return out
}

// unfitTarget says why a live migration may not go to node n, or "".
func (c *Controller) unfitTarget(n fsm.Node, mode string) string {
	if mode == fsm.MigrateCold {
		return ""
	}
	if err := c.cfg.PeerURIs.Check(n); err != nil {
		return err.Error()
	}
	return ""
}

// moveMode is the mode a drain moves vm in: live for a running or paused
// guest, cold otherwise.
func moveMode(vm *fsm.VM) string {
	if vm.DesiredState != fsm.VMStopped && (vm.State == fsm.VMRunning || vm.State == fsm.VMPaused) {
		return fsm.MigrateLive
	}
	return fsm.MigrateCold
}
