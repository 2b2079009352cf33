package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/scheduler"
)

// RebalanceStatus is the leader's rebalancer view, for GET /api/v1/rebalance:
// the mode, the last round's plan (its moves are the recommendations), and when
// that round ran.
type RebalanceStatus struct {
	Mode       string                  `json:"mode"`
	LeaderID   string                  `json:"leader_id"`
	LeaderName string                  `json:"leader_name"`
	LastRound  time.Time               `json:"last_round,omitempty"`
	Plan       scheduler.RebalancePlan `json:"plan"`
}

// rebalancer holds the last round's outcome for the API.
type rebalancer struct {
	mu   sync.Mutex
	last RebalanceStatus
}

func (r *rebalancer) status() RebalanceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *rebalancer) set(s RebalanceStatus) {
	r.mu.Lock()
	r.last = s
	r.mu.Unlock()
}

// Rebalance returns the leader's rebalancer status; a follower asks the leader.
func (a *Agent) Rebalance(ctx context.Context) (RebalanceStatus, error) {
	if a.IsLeader() {
		return a.rebalancer.status(), nil
	}
	var st RebalanceStatus
	err := a.forwarder.callJSON(ctx, "GET", "/internal/v1/rebalance", nil, &st)
	return st, err
}

// rebalanceLoop runs a rebalancing round every Rebalance.Interval (read anew
// each time, so a settings change takes effect at the next tick): it computes
// the imbalance from the hosts' recent load and the moves that would lower it;
// in automatic mode it starts them as migrations, unless moves of an earlier
// round are still under way.
func (a *Agent) rebalanceLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rs := a.fsm.Settings().Rebalance
		if time.Since(last) < rs.Interval() {
			continue
		}
		last = time.Now()
		a.rebalanceRound(ctx, rs, last.UTC())
	}
}

func (a *Agent) rebalanceRound(ctx context.Context, rs fsm.RebalanceSettings, now time.Time) {
	loads := a.loads.snapshot(now, 3*a.cfg.LoadReportInterval+rs.Interval())
	plan := scheduler.FromState(a.fsm).PlanRebalance(loads, rs, now)
	st := RebalanceStatus{Mode: rs.Mode, LeaderID: a.cfg.NodeID, LeaderName: a.cfg.NodeName, LastRound: now, Plan: plan}
	a.rebalancer.set(st)
	if rs.Mode != fsm.RebalanceAutomatic || len(plan.Moves) == 0 {
		return
	}
	for _, m := range a.fsm.ActiveMigrations() {
		if m.Rebalance != nil {
			return // wait for the last round's moves to land before judging again
		}
	}
	for _, mv := range plan.Moves {
		effect := mv.Effect
		cmd := &fsm.CreateMigration{
			ID: ids.New(), VMID: mv.VMID, Mode: fsm.MigrateLive, Target: mv.To, At: now, Rebalance: &effect,
			Reason: mv.Reason,
		}
		if a.applyLogged(ctx, cmd) {
			a.logger.Info("rebalancing", "vm", mv.VMName, "from", mv.FromName, "to", mv.ToName, "reason", cmd.Reason)
		}
	}
}
