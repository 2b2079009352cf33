package cluster

import (
	"context"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/logadapt"
)

// Stores are the durable Raft stores (see package storage).
type Stores struct {
	Log       raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
}

// newRaft starts this node's Raft instance over TCP, or over mutual TLS
// when the node has a certificate (cfg.TLS).
func newRaft(cfg *Config, f *fsm.FSM, st Stores, notify chan bool) (*raft.Raft, *raft.NetworkTransport, error) {
	logger := cfg.Logger.With("component", "raft")
	bind := net.JoinHostPort(cfg.BindAddr, fmt.Sprint(cfg.RaftPort))
	adv, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr())
	if err != nil {
		return nil, nil, fmt.Errorf("raft advertise address: %w", err)
	}
	var transport *raft.NetworkTransport
	layer := cfg.StreamLayer
	if layer == nil && cfg.TLS != nil {
		if layer, err = newTLSStreamLayer(bind, adv, cfg.TLS); err != nil {
			return nil, nil, fmt.Errorf("start raft over TLS on %s: %w", bind, err)
		}
	}
	if layer != nil {
		transport = raft.NewNetworkTransport(layer, 3, 10*time.Second, logadapt.Writer{Logger: logger})
	} else {
		transport, err = raft.NewTCPTransport(bind, adv, 3, 10*time.Second, logadapt.Writer{Logger: logger})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start raft transport on %s: %w", bind, err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = logadapt.HCLog("raft", logger)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.NotifyCh = notify
	r, err := raft.NewRaft(rc, f, st.Log, st.Stable, st.Snapshots, transport)
	if err != nil {
		transport.Close()
		return nil, nil, fmt.Errorf("start raft: %w", err)
	}
	return r, transport, nil
}

// bootstrapLoop bootstraps a brand-new cluster once BootstrapExpect nodes that
// were started with the same --bootstrap-expect have met in gossip. Every one of
// them proposes the same configuration (the first Voters by node ID are voters),
// so whichever wins the first election, they agree. A node with existing Raft
// state never bootstraps again.
func (a *Agent) bootstrapLoop(ctx context.Context) {
	expect := a.cfg.BootstrapExpect
	if expect <= 0 {
		return
	}
	has, err := raft.HasExistingState(a.stores.Log, a.stores.Stable, a.stores.Snapshots)
	if err != nil || has {
		return
	}
	logger := a.logger.With("expect", expect)
	logger.Info("waiting for nodes to bootstrap the cluster")
	for {
		var peers []member
		for _, m := range a.gossip.Members() {
			if m.Status == fsm.NodeAlive && m.Meta.Expect == expect {
				peers = append(peers, m)
			}
		}
		if len(peers) == expect {
			cfg := bootstrapConfiguration(peers, a.cfg.Voters)
			f := a.raft.BootstrapCluster(cfg)
			if err := f.Error(); err != nil && err != raft.ErrCantBootstrap {
				logger.Error("bootstrap failed", "error", err)
			} else {
				logger.Info("bootstrapped cluster", "servers", len(cfg.Servers))
			}
			return
		}
		if len(peers) > expect {
			logger.Error("more nodes with this bootstrap-expect than expected; not bootstrapping, fix --bootstrap-expect", "seen", len(peers))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		if a.raft.LastContact().After(time.Time{}) || a.raft.Leader() != "" {
			return // another cluster already took us in
		}
	}
}

// bootstrapConfiguration makes the first Voters peers (by node ID) voters and
// the rest non-voters.
func bootstrapConfiguration(peers []member, voters int) raft.Configuration {
	sort.Slice(peers, func(i, j int) bool { return peers[i].Meta.ID < peers[j].Meta.ID })
	var cfg raft.Configuration
	for i, p := range peers {
		s := raft.Server{ID: raft.ServerID(p.Meta.ID), Address: raft.ServerAddress(p.Meta.Raft), Suffrage: raft.Voter}
		if i >= voters {
			s.Suffrage = raft.Nonvoter
		}
		cfg.Servers = append(cfg.Servers, s)
	}
	return cfg
}
