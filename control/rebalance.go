package control

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/scheduler"
)

// rebalancer holds the last round's outcome for the API.
type rebalancer struct {
	mu   sync.Mutex
	last fsm.RebalanceStatus
}

func (r *rebalancer) status() fsm.RebalanceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *rebalancer) set(s fsm.RebalanceStatus) {
	r.mu.Lock()
	r.last = s
	r.mu.Unlock()
}

// Rebalance returns the leader's rebalancer status; a follower asks the leader.
func (c *Controller) Rebalance(ctx context.Context) (fsm.RebalanceStatus, error) {
	if c.cluster.IsLeader() {
		return c.rebalancer.status(), nil
	}
	var st fsm.RebalanceStatus
	err := c.cluster.CallLeader(ctx, "GET", "/internal/v1/rebalance", nil, &st)
	return st, err
}

// rebalanceLoop runs a rebalancing round every Rebalance.Interval (read anew
// each time, so a settings change takes effect at the next tick): it computes
// the imbalance from the hosts' recent load and the moves that would lower it;
// in automatic mode it starts them as migrations, unless moves of an earlier
// round are still under way.
func (c *Controller) rebalanceLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rs := c.state.Settings().Rebalance
		if time.Since(last) < rs.Interval() {
			continue
		}
		last = time.Now()
		c.rebalanceRound(ctx, rs, last.UTC())
	}
}

func (c *Controller) rebalanceRound(ctx context.Context, rs fsm.RebalanceSettings, now time.Time) {
	loads := c.loads.snapshot(now, 3*c.cfg.LoadReportInterval+rs.Interval())
	plan := scheduler.FromState(c.state).PlanRebalance(loads, rs, now)
	st := fsm.RebalanceStatus{Mode: rs.Mode, LeaderID: c.cfg.NodeID, LeaderName: c.cfg.NodeName, LastRound: now, Plan: plan}
	c.rebalancer.set(st)
	if rs.Mode != fsm.RebalanceAutomatic || len(plan.Moves) == 0 {
		return
	}
	for _, m := range c.state.ActiveMigrations() {
		if m.Rebalance != nil {
			return // wait for the last round's moves to land before judging again
		}
	}
	unfit := c.unfitTargets()
	for _, mv := range plan.Moves {
		if why := unfit[mv.To]; why != "" {
			c.logger.Info("rebalancing: not moving to a node whose URIs are refused", "vm", mv.VMName, "to", mv.ToName, "reason", why)
			continue
		}
		effect := mv.Effect
		cmd := &fsm.CreateMigration{
			ID: ids.New(), VMID: mv.VMID, Mode: fsm.MigrateLive, Target: mv.To, At: now, Rebalance: &effect,
			Reason: mv.Reason,
		}
		if c.applyLogged(ctx, cmd) {
			c.logger.Info("rebalancing", "vm", mv.VMName, "from", mv.FromName, "to", mv.ToName, "reason", cmd.Reason)
		}
	}
}

// serveRebalance answers the leader's rebalancer status.
func (c *Controller) serveRebalance(*http.Request) (any, error) { return c.rebalancer.status(), nil }
