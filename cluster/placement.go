package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// placementLoop is the leader's loop that places pending VMs: those created while
// no node had room, or whose placement at creation went stale. It wakes on every
// VM or node change and retries periodically, since capacity frees up when nodes
// join or VMs are deleted.
func (a *Agent) placementLoop(ctx context.Context) {
	events, cancel := a.fsm.Subscribe(256)
	defer cancel()
	ticker := time.NewTicker(a.cfg.ReconcileInterval)
	defer ticker.Stop()
	for {
		a.placePending(ctx)
		select {
		case <-ctx.Done():
			return
		case <-events:
			drain(events) // one pass covers every change that piled up
		case <-ticker.C:
		}
	}
}

// drain empties a subscription channel without blocking.
func drain(events <-chan fsm.Event) {
	for {
		select {
		case <-events:
		default:
			return
		}
	}
}

// placePending places every VM that has no node yet.
func (a *Agent) placePending(ctx context.Context) {
	for _, vm := range a.fsm.PendingVMs() {
		if ctx.Err() != nil {
			return
		}
		d := scheduler.Place(a.fsm, vm.Spec)
		if !d.OK() {
			a.logger.Debug("vm cannot be placed yet", "vm", vm.Spec.Name, "reason", d.Reason)
			continue
		}
		_, err := a.Apply(ctx, &fsm.PlaceVM{ID: vm.ID, Node: d.Node, FromGeneration: vm.Generation, Reason: d.Reason, At: time.Now().UTC()})
		switch {
		case err == nil:
			a.logger.Info("placed vm", "vm", vm.Spec.Name, "node", d.NodeName, "reason", d.Reason)
		case errors.Is(err, fsm.ErrStaleGeneration), errors.Is(err, fsm.ErrNotFound):
			// Someone else placed or deleted it meanwhile; the next round sees that.
		default:
			a.logger.Warn("placing vm", "vm", vm.Spec.Name, "error", err)
		}
	}
}
