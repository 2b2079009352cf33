package control

import (
	"context"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// placementLoop is the leader's loop that places pending VMs: new ones, and those
// that fit nowhere until capacity frees up. It wakes on every change (and
// periodically, since capacity also frees when nodes join or VMs go), decides
// every pending VM against one snapshot of the cluster, each decision seeing the
// ones before it, and writes them in batches: a burst of creations costs a few
// log entries, not one per VM.
func (c *Controller) placementLoop(ctx context.Context) {
	events, cancel := c.state.Subscribe(256)
	defer cancel()
	ticker := time.NewTicker(c.cfg.ResyncInterval)
	defer ticker.Stop()
	var memo unfitMemo
	for {
		c.placePending(ctx, &memo)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			// Events are dropped when the loop lags (the subscription is
			// bounded): the periodic pass decides every pending VM the memo
			// does not hold. The memo itself needs no reset: it holds only
			// while the capacity epoch stands, and the epoch moves with
			// every applied command that may make room, event or not. So
			// 10,000 VMs that fit nowhere cost nothing while nothing
			// changes (issue 12).
			continue
		case <-events:
			// Let a burst of creations gather for a moment: one pass (one
			// snapshot, one log entry) then covers all of them.
			select {
			case <-ctx.Done():
				return
			case <-time.After(placementGather):
			}
			drain(events)
		}
	}
}

// unfitMemo is what the last pass left waiting: the pending VMs that fit
// nowhere, decided at capacity epoch epoch. While the epoch has not moved
// (only creations and such happened, see fsm.CapacityEpoch) they would be
// refused again for the same reasons, so a pass decides only the others:
// a burst of creations into a full cluster costs each new VM one decision,
// not a rescan of the whole backlog.
type unfitMemo struct {
	valid bool
	epoch uint64
	unfit map[string]struct{}
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

// placePending decides the pending VMs and records the decisions: a
// placement, or for a VM that fits nowhere the reasons, when they changed.
// It decides every pending VM, or only those memo does not hold when the
// capacity epoch has not moved since memo's pass. It returns how many it
// decided.
func (c *Controller) placePending(ctx context.Context, memo *unfitMemo) int {
	// The epoch is read before the state: a change in between moves it, and
	// the next pass decides everything again.
	epoch := c.state.CapacityEpoch()
	var pending []fsm.VM
	if memo.valid && memo.epoch == epoch {
		pending = c.state.PendingVMsExcept(memo.unfit)
	} else {
		*memo = unfitMemo{valid: true, epoch: epoch, unfit: map[string]struct{}{}}
		pending = c.state.PendingVMs()
	}
	if len(pending) == 0 {
		return 0
	}
	sc := c.placementCluster(pending)
	now := time.Now().UTC()
	var cmds []fsm.Command
	placed := 0
	unfitShapes := map[shape]*fsm.Decision{}
	for i := range pending {
		vm := &pending[i]
		sh, memoable := shapeOf(vm)
		if known := unfitShapes[sh]; memoable && known != nil {
			memo.unfit[vm.ID] = struct{}{}
			if d := *known; noFitChanged(vm, &d, now) {
				cmds = append(cmds, &fsm.PlaceVM{ID: vm.ID, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: now})
			}
			continue
		}
		d := sc.Place(vm, scheduler.Options{At: now})
		if d.OK() {
			sc.Assign(vm, d.Node)
			placed++
			cmds = append(cmds, &fsm.PlaceVM{ID: vm.ID, Node: d.Node, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: now})
		} else {
			memo.unfit[vm.ID] = struct{}{}
			if memoable {
				unfitShapes[sh] = &d
			}
			if noFitChanged(vm, &d, now) {
				cmds = append(cmds, &fsm.PlaceVM{ID: vm.ID, FromGeneration: vm.Generation, Reason: d.Reason, Decision: &d, At: now})
			}
		}
	}
	c.cluster.ApplyInBatches(ctx, cmds)
	if placed > 0 {
		c.logger.Debug("placed pending vms", "placed", placed, "decided", len(pending))
	}
	return len(pending)
}

// placementCluster is the snapshot a pass decides pending against. VMs
// outside placement groups need only what each node has promised, which the
// FSM keeps summed: no VM is copied, so a pass costs the same with 100,000
// VMs as with none (the creates' own placement does the same). A group
// member needs to know where the other members run, so a backlog holding
// one takes the whole snapshot.
func (c *Controller) placementCluster(pending []fsm.VM) *scheduler.Cluster {
	for i := range pending {
		if inGroups(&pending[i].Spec) {
			return scheduler.FromState(c.state)
		}
	}
	nodes, reserved, settings := c.state.NodeReservations()
	return scheduler.NewCluster(nodes, nil, reserved, settings)
}

// noFitRefresh is how stale a pending VM's recorded reasons may grow while
// the kinds of rejection stay the same.
const noFitRefresh = time.Minute

// smallCluster is the size up to which a no-fit reason names every node's
// own reason (scheduler.noFitReason), so it is recorded whenever its text
// changes.
const smallCluster = 4

// noFitChanged says whether d, a decision that vm fits nowhere, is worth a
// log entry. In a large cluster the reason counts nodes per kind of
// rejection, and those counts move with every capacity change: recording
// each pending VM's new counts at every pass would write the whole backlog
// to the log again whenever a node frees room (20,000 decisions a pass in
// the fleet benchmark). So a large cluster records a new reason only when
// the kinds of rejection change or the recorded one is older than
// noFitRefresh; a small one whenever the text changes.
func noFitChanged(vm *fsm.VM, d *fsm.Decision, now time.Time) bool {
	if vm.Placement == d.Reason {
		return false
	}
	old := vm.Decision
	if old == nil || old.OK() || d.Considered <= smallCluster || now.Sub(old.At) >= noFitRefresh {
		return true
	}
	return !old.RejectedCounts.SameKinds(d.RejectedCounts)
}
