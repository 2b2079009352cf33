package control

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/scheduler"
)

// failoverTimeout bounds how long a failover record waits for its VMs to run
// again before it is closed with those that did not.
const failoverTimeout = 5 * time.Minute

// failoverLoop is the leader's loop for host failures. A host that has not
// renewed its lease for a while becomes suspect; once FenceTimeout plus one
// heartbeat has passed since the leader last heard from it (or since this
// leader took over, whichever is later), the host has surely fenced itself:
// the leader marks it failed and restarts its HA VMs elsewhere in one
// StartFailover, highest priority first. It then follows each failover until
// its VMs run again.
func (c *Controller) failoverLoop(ctx context.Context) {
	ticker := time.NewTicker(c.cfg.Lease.Heartbeat / 2)
	defer ticker.Stop()
	detected := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		c.checkLeases(ctx, detected)
		c.followFailovers(ctx)
	}
}

// checkLeases looks at every node that holds VMs or is still alive.
func (c *Controller) checkLeases(ctx context.Context, detected map[string]time.Time) {
	now := time.Now()
	suspectAfter, deadline := c.cfg.Lease.SuspectAfter(), c.cfg.Lease.FailAfter()
	for _, n := range c.state.Nodes() {
		if n.Status == fsm.NodeLeft || n.ID == c.cfg.NodeID {
			continue
		}
		owner := n.ID
		if n.Fleet != "" {
			owner = n.Fleet
		}
		if owner == c.cfg.NodeID {
			continue // the leader's own fleet lives and dies with the leader
		}
		seen, renewal := c.cluster.LeaseSeen(owner)
		late := now.Sub(seen)
		if late < suspectAfter {
			delete(detected, n.ID)
			continue
		}
		if _, ok := detected[n.ID]; !ok {
			detected[n.ID] = now
		}
		cause := fmt.Sprintf("heartbeat: no lease renewal for %.1fs", late.Seconds())
		if late < deadline {
			if n.Status == fsm.NodeAlive {
				c.applyLogged(ctx, &fsm.SetNodeStatus{ID: n.ID, Status: fsm.NodeSuspect, Cause: cause, At: now.UTC()})
			}
			continue
		}
		if n.Status != fsm.NodeFailed {
			if !c.applyLogged(ctx, &fsm.SetNodeStatus{ID: n.ID, Status: fsm.NodeFailed, Cause: cause, At: now.UTC()}) {
				continue
			}
			n.Status, n.StatusCause = fsm.NodeFailed, cause
		}
		c.failOver(ctx, n, failoverTimes{renewal: renewal, detected: detected[n.ID], fenced: seen.Add(c.cfg.Lease.Timeout), now: now}, cause)
	}
}

type failoverTimes struct{ renewal, detected, fenced, now time.Time }

// failOver moves the failed node's VMs that fail over (fsm.VM.FailsOver), if
// it has any, placed as scheduler.Failover decides: highest priority first.
// A node whose VMs all stay (HA off, meant to be stopped) still gets one
// failover record, listing them as left behind, so that `failover list`
// shows every host failure.
func (c *Controller) failOver(ctx context.Context, n fsm.Node, at failoverTimes, cause string) {
	from := map[string]uint64{}
	var left []fsm.FailoverVM
	for _, vm := range c.state.VMsOnNode(n.ID) {
		if vm.FailsOver() {
			from[vm.ID] = vm.Generation
		} else if len(left) < fsm.MaxLeftBehind {
			left = append(left, fsm.FailoverVM{VMID: vm.ID, VMName: vm.Spec.Name, Reason: vm.NoFailoverReason()})
		}
	}
	cmd := &fsm.StartFailover{
		Failover: fsm.Failover{ID: ids.New(), Node: n.ID, Cause: joinCause(cause, n.StatusCause), LastRenewal: at.renewal.UTC(),
			DetectedAt: at.detected.UTC(), FencedAt: at.fenced.UTC(), RestartedAt: at.now.UTC(), LeftBehind: left},
		FromGenerations: map[string]uint64{}, Decisions: map[string]*fsm.Decision{},
	}
	if len(from) == 0 {
		if len(left) > 0 && !c.failureRecorded(n) && c.applyLogged(ctx, cmd) {
			c.logger.Warn("a dead host's vms stay on it, unknown until it returns", "node", n.Name, "vms", len(left), "cause", cmd.Failover.Cause)
		}
		return
	}
	moves, err := scheduler.FromState(c.state).Failover(n.ID, at.now.UTC())
	if err != nil {
		c.logger.Warn("planning a failover", "node", n.Name, "error", err)
		return
	}
	for _, m := range moves {
		gen, ok := from[m.VMID]
		if !ok {
			continue // changed between the two reads: the next pass sees it
		}
		move := fsm.FailoverVM{VMID: m.VMID, Node: m.Node}
		if m.Node == "" {
			move.Reason = m.Decision.Reason
		}
		cmd.Failover.VMs = append(cmd.Failover.VMs, move)
		cmd.FromGenerations[m.VMID] = gen
		cmd.Decisions[m.VMID] = &m.Decision
	}
	if len(cmd.Failover.VMs) > 0 && c.applyLogged(ctx, cmd) {
		c.logger.Warn("failed over a dead host's vms", "node", n.Name, "vms", len(cmd.Failover.VMs), "cause", cmd.Failover.Cause)
	}
}

// failureRecorded reports whether a failover was recorded for n since it
// last became failed: a node that stays failed gets one record, not one per
// pass.
func (c *Controller) failureRecorded(n fsm.Node) bool {
	for _, fo := range c.state.Failovers() {
		if fo.Node == n.ID && !fo.RestartedAt.Before(n.StatusSince) {
			return true
		}
	}
	return false
}

// followFailovers records when each failed-over VM runs again, and closes a
// failover once all of them do (or after failoverTimeout).
func (c *Controller) followFailovers(ctx context.Context) {
	now := time.Now().UTC()
	for _, fo := range c.state.ActiveFailovers() {
		running, done := map[string]time.Time{}, true
		for _, v := range fo.VMs {
			if v.Node == "" || !v.RunningAt.IsZero() {
				continue
			}
			vm, err := c.state.VM(v.VMID)
			switch {
			case err != nil, vm.Node != v.Node, vm.Generation != v.Generation:
				// Deleted or moved on since: nothing more to wait for.
			case vm.State == fsm.VMRunning:
				running[v.VMID] = vm.ReportedAt
			default:
				done = false
			}
		}
		timedOut := now.Sub(fo.RestartedAt) > failoverTimeout
		if len(running) == 0 && !done && !timedOut {
			continue
		}
		c.applyLogged(ctx, &fsm.UpdateFailover{ID: fo.ID, RunningAt: running, Completed: done || timedOut, At: now})
	}
}

func joinCause(heartbeat, status string) string {
	if status == "" || status == heartbeat {
		return heartbeat
	}
	return heartbeat + "; " + status
}
