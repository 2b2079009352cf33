package cluster

import (
	"context"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// maxWriteBatch bounds the commands one log entry carries when the leader
// writes many of its own at once (placements, fleet registrations); larger
// than the batcher's maxBatch, which coalesces separate callers' writes.
const maxWriteBatch = 512

// placementLoop is the leader's loop that places pending VMs: new ones, and those
// that fit nowhere until capacity frees up. It wakes on every change (and
// periodically, since capacity also frees when nodes join or VMs go), decides
// every pending VM against one snapshot of the cluster, each decision seeing the
// ones before it, and writes them in batches: a burst of creations costs a few
// log entries, not one per VM.
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
			// Let a burst of creations gather for a moment: one pass (one
			// snapshot, one log entry) then covers all of them.
			select {
			case <-ctx.Done():
				return
			case <-time.After(placementGather):
			}
			drain(events)
		case <-ticker.C:
		}
	}
}

// placementGather is how long the placement loop lets changes pile up before a
// pass; it adds at most this much to a new VM's time to placement.
const placementGather = 5 * time.Millisecond

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

// placePending decides every pending VM and records the decisions: a placement,
// or for a VM that fits nowhere the reasons, when they changed.
func (a *Agent) placePending(ctx context.Context) {
	pending := a.fsm.PendingVMs()
	if len(pending) == 0 {
		return
	}
	sc := scheduler.FromState(a.fsm)
	now := time.Now().UTC()
	var cmds []fsm.Command
	placed := 0
	for i := range pending {
		vm := &pending[i]
		d := sc.Place(vm, scheduler.Options{At: now})
		if d.OK() {
			sc.Assign(vm, d.Node)
			placed++
			cmds = append(cmds, &fsm.PlaceVM{ID: vm.ID, Node: d.Node, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: now})
		} else if vm.Placement != d.Reason {
			cmds = append(cmds, &fsm.PlaceVM{ID: vm.ID, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: now})
		}
	}
	a.applyInBatches(ctx, cmds)
	if placed > 0 {
		a.logger.Debug("placed pending vms", "placed", placed, "pending", len(pending))
	}
}

// applyInBatches applies cmds in log entries of at most maxWriteBatch commands.
func (a *Agent) applyInBatches(ctx context.Context, cmds []fsm.Command) {
	for len(cmds) > 0 && ctx.Err() == nil {
		n := min(len(cmds), maxWriteBatch)
		a.applyBatch(ctx, cmds[:n])
		cmds = cmds[n:]
	}
}

// applyBatch applies cmds as one log entry. Each command succeeds or fails on
// its own; a refused placement (the VM changed meanwhile) is left for the next
// pass.
func (a *Agent) applyBatch(ctx context.Context, cmds []fsm.Command) {
	var cmd fsm.Command = cmds[0]
	if len(cmds) > 1 {
		b, err := fsm.NewBatch(cmds...)
		if err != nil {
			a.logger.Error("encoding batch", "error", err)
			return
		}
		cmd = b
	}
	if _, err := a.Apply(ctx, cmd); err != nil && ctx.Err() == nil && len(cmds) == 1 {
		a.logger.Debug("leader write refused", "command", cmd.Type(), "error", err)
	}
}
