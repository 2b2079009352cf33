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
// transitions: see Consul's leader.go) and runs the leader's work while this
// node leads.
func (a *Agent) monitorLeadership(ctx context.Context, notify <-chan bool, work LeaderWork) {
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
				a.leaderLoop(lctx, work)
			}()
		}
	}
}

// establishTries is how many times a new leader tries to establish its
// leadership before it hands leadership to another voter: a leader that
// cannot apply its barrier would otherwise hold the cluster without ever
// running failover (Consul: leadershipTransfer).
const establishTries = 3

// leaderLoop establishes leadership (barrier, cluster init) and then runs the
// member reconcile and the leader's work until ctx ends.
func (a *Agent) leaderLoop(ctx context.Context, work LeaderWork) {
	a.logger.Info("gained leadership")
	for try := 1; ; try++ {
		err := a.establishLeadership()
		if err == nil {
			break
		}
		if try >= establishTries {
			a.logger.Error("establishing leadership keeps failing; handing leadership over", "tries", try, "error", err)
			a.transferLeadership()
			return
		}
		a.logger.Warn("establishing leadership failed, retrying", "try", try, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	var wg sync.WaitGroup
	loops := []func(context.Context){a.reconcileLoop}
	if work != nil {
		loops = append(loops, work.RunLeader)
	}
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// transferLeadership hands leadership to another voter. If that fails too,
// this node steps down by itself when it cannot reach a quorum; otherwise
// Raft notifies it again and it tries anew.
func (a *Agent) transferLeadership() {
	if err := a.raft.LeadershipTransfer().Error(); err != nil {
		a.logger.Error("leadership transfer failed", "error", err)
	}
}

// establishLeadership waits until every earlier entry is applied (barrier), so the
// leader's loops read complete state, starts the lease table afresh and
// initialises a new cluster (identity, secret, gossip keyring).
func (a *Agent) establishLeadership() error {
	term := a.raft.CurrentTerm()
	if err := a.establishBarrier(); err != nil {
		return err
	}
	// Everything committed before this term is now applied here: reads may be
	// served from this FSM (see readIndexLocal).
	a.readyTerm.Store(term)
	// A new leader knows nothing of the renewals the previous one saw: every
	// host gets a whole lease from now.
	a.leases.reset(time.Now())
	if a.fsm.Cluster().ID == "" {
		_, err := a.applyLocal(&fsm.InitCluster{ClusterID: ids.New(), At: time.Now().UTC()})
		if err != nil {
			return err
		}
	}
	if a.cfg.CAKeyPEM != "" && a.fsm.Cluster().CACert == "" {
		// Applied here, never forwarded: the CA key does not come in from the network.
		if _, err := a.applyLocal(&fsm.SetClusterCA{CertPEM: a.cfg.CACertPEM, KeyPEM: a.cfg.CAKeyPEM}); err != nil {
			return err
		}
		a.logger.Info("recorded the cluster CA: nodes can now enroll hosts with join tokens")
	}
	return a.establishKeyring()
}

// establishBarrier is the barrier of establishLeadership (a test may make it
// fail through failBarrier).
func (a *Agent) establishBarrier() error {
	if a.failBarrier != nil {
		if err := a.failBarrier(); err != nil {
			return err
		}
	}
	return a.raft.Barrier(a.cfg.ApplyTimeout).Error()
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
