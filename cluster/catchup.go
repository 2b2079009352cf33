package cluster

import (
	"context"
	"time"
)

// A node that restarts from an old log must not act on stale state: the host
// reconciler, the lease and the fleet first wait until the local FSM has
// applied what the leader had committed (a read index).

// CatchUp waits, for at most timeout, until the local FSM has applied what
// the leader had committed when asked (read index). The first success marks
// the agent caught up (CaughtUp, CaughtUpCh).
func (a *Agent) CatchUp(ctx context.Context, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	idx, err := a.ConsistentIndex(cctx)
	if err == nil {
		err = a.fsm.WaitForIndex(cctx, idx)
	}
	if err == nil {
		a.caughtUpOnce.Do(func() {
			a.logger.Info("caught up with the cluster; reconciling host", "index", idx)
			a.caughtUp.Store(true)
			close(a.caughtUpCh)
		})
	}
	return err
}

// WaitCaughtUp retries CatchUp until it succeeds (true) or ctx ends (false).
func (a *Agent) WaitCaughtUp(ctx context.Context) bool {
	for {
		err := a.CatchUp(ctx, 5*time.Second)
		if err == nil {
			return true
		}
		a.logger.Debug("waiting to catch up before touching the hypervisor", "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// CaughtUpCh is closed once this node has caught up since it started.
func (a *Agent) CaughtUpCh() <-chan struct{} { return a.caughtUpCh }
