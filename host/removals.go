package host

import (
	"context"
	"errors"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// confirmRemovals tells the cluster which of the VMs deleted from this node
// have no domain left here, so that `vm delete --wait` can return (see
// fsm.Removal). It runs after a pass has removed the domains of deleted VMs;
// one whose domain is still here (its removal failed) waits for a later pass.
// It costs nothing while no removal waits for this node.
func (h *hostReconciler) confirmRemovals(ctx context.Context) {
	removals := h.host.state.RemovalsOnNode(h.nodeID)
	if len(removals) == 0 {
		return
	}
	var gone []string
	for _, r := range removals {
		if len(gone) == fsm.MaxDomainsRemoved {
			break // the rest go with the next pass
		}
		_, err := h.driver.Inspect(ctx, r.VMID)
		switch {
		case errors.Is(err, hypervisor.ErrNotFound):
			if h.removeVolumes(&r) {
				gone = append(gone, r.VMID)
			}
		case err != nil:
			h.logger.Warn("inspecting the domain of a deleted vm", "vm", r.VMID, "error", err)
		}
	}
	if len(gone) == 0 {
		return
	}
	idx, err := h.host.cluster.Apply(ctx, &fsm.DomainRemoved{Node: h.nodeID, VMIDs: gone})
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Debug("confirming removed domains", "vms", len(gone), "error", err)
		}
		return
	}
	h.logger.Debug("confirmed removed domains", "vms", len(gone), "index", idx)
	// Wait until our own copy shows it, or the next event's pass would find
	// the removals still there and confirm them again.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	h.host.state.WaitForIndex(wctx, idx)
	cancel()
}
