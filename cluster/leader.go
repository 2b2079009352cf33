package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

var leaderChanges = metrics.GetOrCreateCounter("novacron_raft_leader_changes_total")

// monitorLeadership follows Raft's NotifyCh (not LeaderCh, which can drop
// transitions: see Consul's leader.go) and runs the leader-only loops while this
// node leads.
func (a *Agent) monitorLeadership(ctx context.Context, notify <-chan bool) {
	var stop context.CancelFunc
	var wg sync.WaitGroup
	revoke := func() {
		if stop != nil {
			stop()
			wg.Wait()
			stop = nil
			a.logger.Info("leadership lost; leader loops stopped")
		}
	}
	defer revoke()
	for {
		select {
		case <-ctx.Done():
			return
		case isLeader := <-notify:
			leaderChanges.Inc()
			if !isLeader {
				revoke()
				continue
			}
			if stop != nil {
				continue
			}
			lctx, cancel := context.WithCancel(ctx)
			stop = cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.leaderLoop(lctx)
			}()
		}
	}
}

// leaderLoop establishes leadership (barrier, cluster init) and then runs the
// leader's loops until ctx ends.
func (a *Agent) leaderLoop(ctx context.Context) {
	a.logger.Info("gained leadership")
	for {
		if err := a.establishLeadership(); err == nil {
			break
		} else {
			a.logger.Warn("establishing leadership failed, retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.reconcileLoop, a.placementLoop, a.migrationLoop, a.rebalanceLoop, a.failoverLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// establishLeadership waits until every earlier entry is applied (barrier), so the
// leader's loops read complete state, and initialises a new cluster.
func (a *Agent) establishLeadership() error {
	term := a.raft.CurrentTerm()
	if err := a.raft.Barrier(a.cfg.ApplyTimeout).Error(); err != nil {
		return err
	}
	// Everything committed before this term is now applied here: reads may be
	// served from this FSM (see readIndexLocal).
	a.readyTerm.Store(term)
	if a.fsm.Cluster().ID == "" {
		_, err := a.applyLocal(&fsm.InitCluster{ClusterID: ids.New(), Secret: ids.Secret("", 32), At: time.Now().UTC()})
		if err != nil {
			return err
		}
	}
	return nil
}

// bootstrapTokenLoop creates the root token from --bootstrap-token once the
// cluster has a leader, unless the cluster already bootstrapped one. Any node
// configured with the token may do it; the FSM accepts only the first.
func (a *Agent) bootstrapTokenLoop(ctx context.Context) {
	secret := a.cfg.BootstrapToken
	if secret == "" {
		return
	}
	for ctx.Err() == nil {
		info := a.fsm.Cluster()
		if info.TokenBootstrapped {
			return
		}
		if info.ID != "" {
			tok := fsm.Token{ID: ids.New(), Name: "root", Role: "admin", Hash: fsm.HashSecret(secret), CreatedAt: time.Now().UTC()}
			_, err := a.Apply(ctx, &fsm.BootstrapToken{Token: tok})
			if err == nil {
				a.logger.Info("root token bootstrapped")
				return
			}
			if a.fsm.Cluster().TokenBootstrapped {
				return
			}
			a.logger.Debug("bootstrap token not applied yet", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
