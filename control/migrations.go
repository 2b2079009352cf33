package control

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/scheduler"
)

// drainRetry is how long the leader waits before it tries again to move a VM
// off a node in maintenance after starting a migration for it.
const drainRetry = 30 * time.Second

// migrationLoop is the leader's loop for migrations: it admits pending ones
// under the concurrency bounds, fails those whose hosts died before the copy
// began, and drains nodes in maintenance. Its state is all in the FSM, so a new
// leader carries on where the old one stopped.
func (c *Controller) migrationLoop(ctx context.Context) {
	events, cancel := c.state.Subscribe(1024)
	defer cancel()
	ticker := time.NewTicker(c.cfg.ResyncInterval)
	defer ticker.Stop()
	drainStarted := map[string]time.Time{}
	for {
		c.admitMigrations(ctx)
		c.drainNodes(ctx, drainStarted)
		select {
		case <-ctx.Done():
			return
		case <-events:
			drain(events)
		case <-ticker.C:
		}
	}
}

// admitMigrations moves pending migrations to preparing while the bounds allow,
// oldest first, and fails those that cannot start any more.
func (c *Controller) admitMigrations(ctx context.Context) {
	set := c.state.Settings()
	active := c.state.ActiveMigrations()
	perHost, total := map[string]int{}, 0
	for _, m := range active {
		if m.State != fsm.MigrationPending {
			perHost[m.Source]++
			perHost[m.Target]++
			total++
		}
	}
	now := time.Now().UTC()
	for _, m := range active {
		if ctx.Err() != nil {
			return
		}
		if m.State == fsm.MigrationRunning {
			continue // the source owns it now, and settles it if it restarts
		}
		if why := c.cannotStart(m); why != "" {
			c.applyLogged(ctx, &fsm.UpdateMigration{ID: m.ID, State: fsm.MigrationFailed, Error: why, At: now})
			continue
		}
		if m.State != fsm.MigrationPending {
			continue
		}
		if total >= set.MaxMigrationsPerCluster {
			return
		}
		if perHost[m.Source] >= set.MaxMigrationsPerHost || perHost[m.Target] >= set.MaxMigrationsPerHost {
			continue
		}
		if c.applyLogged(ctx, &fsm.UpdateMigration{ID: m.ID, State: fsm.MigrationPreparing, At: now}) {
			perHost[m.Source]++
			perHost[m.Target]++
			total++
		}
	}
}

// cannotStart says why a migration that has not begun copying can no longer
// start, or "".
func (c *Controller) cannotStart(m fsm.Migration) string {
	src, err := c.state.Node(m.Source)
	if err != nil {
		return "source node is gone"
	}
	dst, err := c.state.Node(m.Target)
	switch {
	case err != nil:
		return "destination node is gone"
	case dst.Status != fsm.NodeAlive:
		return fmt.Sprintf("destination node %s is %s", dst.Name, dst.Status)
	case src.Status != fsm.NodeAlive:
		return fmt.Sprintf("source node %s is %s", src.Name, src.Status)
	}
	return ""
}

// drainNodes starts a migration for every VM on an alive node in maintenance
// that has none yet: live for a running or paused guest, cold otherwise. A VM
// that fits nowhere stays; the drain status in the API names it and why.
func (c *Controller) drainNodes(ctx context.Context, started map[string]time.Time) {
	var sc *scheduler.Cluster
	var unfit map[string]string
	now := time.Now().UTC()
	for id, at := range started {
		if now.Sub(at) > drainRetry {
			delete(started, id)
		}
	}
	for _, n := range c.state.MaintenanceNodes() {
		if n.Status != fsm.NodeAlive {
			continue
		}
		for _, vm := range c.state.VMsOnNode(n.ID) {
			if ctx.Err() != nil {
				return
			}
			if vm.Migration != "" || !started[vm.ID].IsZero() {
				continue
			}
			mode := moveMode(&vm)
			if c.state.CheckMovable(vm.ID, mode) != nil {
				continue // the drain status names it, with the reason
			}
			if sc == nil {
				sc, unfit = scheduler.FromState(c.state), c.unfitTargets()
			}
			opts := scheduler.Options{Exclude: map[string]bool{n.ID: true}, At: now}
			if mode != fsm.MigrateCold {
				opts.Unfit = unfit
			}
			d := sc.Place(&vm, opts)
			if !d.OK() {
				continue
			}
			started[vm.ID] = now
			cmd := &fsm.CreateMigration{ID: ids.New(), VMID: vm.ID, Mode: mode, Target: d.Node,
				Reason: fmt.Sprintf("drain: node %s is in maintenance", n.Name), At: now}
			if c.applyLogged(ctx, cmd) {
				sc.Assign(&vm, d.Node)
			}
		}
	}
}
