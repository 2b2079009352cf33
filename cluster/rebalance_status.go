package cluster

import (
	"context"
	"time"

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

// Rebalance returns the leader's rebalancer status; a follower asks the leader.
func (a *Agent) Rebalance(ctx context.Context) (RebalanceStatus, error) {
	return RebalanceStatus{}, ErrNotReady // TODO(lead): filled in by the rebalancer
}
