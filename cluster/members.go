package cluster

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
)

// reconcileLoop is the leader's bridge from gossip to Raft, as in Consul's
// reconcileMember: it records each member's status in the FSM, adds new members
// to the Raft configuration (voters up to cfg.Voters, then non-voters), removes
// those that left, and replaces voters that stay failed.
func (a *Agent) reconcileLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.ReconcileInterval)
	defer ticker.Stop()
	for {
		a.reconcileMembers(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.gossip.changed:
		case <-ticker.C:
		}
	}
}

func (a *Agent) reconcileMembers(ctx context.Context) {
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		a.logger.Warn("read raft configuration", "error", err)
		return
	}
	servers := map[string]raft.Server{}
	for _, s := range f.Configuration().Servers {
		servers[string(s.ID)] = s
	}
	members := a.gossip.Members()
	for _, m := range members {
		if ctx.Err() != nil {
			return
		}
		a.reconcileMember(ctx, m, servers)
	}
	a.manageVoters(members, servers)
}

func (a *Agent) reconcileMember(ctx context.Context, m member, servers map[string]raft.Server) {
	id := m.Meta.ID
	existing, err := a.fsm.Node(id)
	known := err == nil
	now := time.Now().UTC()
	logger := a.logger.With("member", m.Name, "id", id)
	apply := func(cmd fsm.Command) {
		if _, err := a.Apply(ctx, cmd); err != nil {
			logger.Warn("recording member change", "command", cmd.Type(), "error", err)
		}
	}
	departed := known && existing.Status == fsm.NodeLeft
	switch {
	case departed && (m.Meta.Leaving || m.Status != fsm.NodeAlive):
		// It announced its leave through Raft: take it out of the configuration
		// whatever gossip says while it goes.
		a.removeServer(m, servers)
		return
	case m.Meta.Leaving:
		return // leaving: wait for its own record of it
	}
	switch m.Status {
	case fsm.NodeAlive:
		if why := a.refuseMember(m, existing, known); why != "" {
			a.identities.warnOnce(m, why, logger)
			return
		}
		want := m.node()
		a.checkPeerURIs(want, logger)
		// A node whose heartbeats are late stays suspect or failed until it
		// renews its lease again, whatever gossip says (a hung agent still
		// gossips); setting it alive here would only flap with checkLeases.
		if known && existing.Status != fsm.NodeAlive && a.leaseLate(id) {
			break
		}
		if !known || nodeChanged(existing, want) || existing.Status != fsm.NodeAlive {
			want.StatusCause = "gossip: member alive"
			apply(&fsm.RegisterNode{Node: want, At: now})
		}
		if _, in := servers[id]; !in {
			a.addServer(m, servers)
		}
	case fsm.NodeSuspect:
		if known && existing.Status == fsm.NodeAlive {
			apply(&fsm.SetNodeStatus{ID: id, Status: fsm.NodeSuspect, Cause: "gossip: member suspect (missed probes)", At: now})
		}
	case fsm.NodeFailed:
		if known && existing.Status != fsm.NodeFailed && existing.Status != fsm.NodeLeft {
			apply(&fsm.SetNodeStatus{ID: id, Status: fsm.NodeFailed, Cause: "gossip: member failed", At: now})
		}
	case fsm.NodeLeft:
		if known && existing.Status != fsm.NodeLeft {
			apply(&fsm.SetNodeStatus{ID: id, Status: fsm.NodeLeft, Cause: "gossip: member left", At: now})
		}
		a.removeServer(m, servers)
	}
}

// removeServer takes a departed member out of the Raft configuration.
func (a *Agent) removeServer(m member, servers map[string]raft.Server) {
	id := m.Meta.ID
	if _, in := servers[id]; !in || id == a.cfg.NodeID {
		return
	}
	if err := a.raft.RemoveServer(raft.ServerID(id), 0, 0).Error(); err != nil {
		a.logger.Warn("remove departed member from raft", "member", m.Name, "error", err)
		return
	}
	a.logger.Info("removed departed member from raft", "member", m.Name)
	delete(servers, id)
}

// addServer adds an alive member to Raft: as a voter while there are fewer than
// cfg.Voters, else as a non-voter.
func (a *Agent) addServer(m member, servers map[string]raft.Server) {
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	id, addr := raft.ServerID(m.Meta.ID), raft.ServerAddress(m.Meta.Raft)
	var f raft.IndexFuture
	suffrage := raft.Voter
	if voters < a.cfg.Voters {
		f = a.raft.AddVoter(id, addr, 0, 0)
	} else {
		suffrage = raft.Nonvoter
		f = a.raft.AddNonvoter(id, addr, 0, 0)
	}
	if err := f.Error(); err != nil {
		a.logger.Warn("add member to raft", "member", m.Name, "error", err)
		return
	}
	a.logger.Info("added member to raft", "member", m.Name, "role", roleName(suffrage))
	servers[m.Meta.ID] = raft.Server{ID: id, Address: addr, Suffrage: suffrage}
}

// manageVoters keeps cfg.Voters healthy voters: it promotes an alive non-voter
// when voters are missing, and when a voter has been failed for longer than
// DeadVoterGrace it promotes a replacement first and then removes the dead voter.
// One change per round keeps the configuration changes serial.
func (a *Agent) manageVoters(members []member, servers map[string]raft.Server) {
	byID := map[string]member{}
	for _, m := range members {
		byID[m.Meta.ID] = m
	}
	var voters, failedVoters, healthyNonvoters []raft.Server
	for _, s := range servers {
		m, seen := byID[string(s.ID)]
		alive := seen && m.Status == fsm.NodeAlive
		switch {
		case s.Suffrage == raft.Voter:
			voters = append(voters, s)
			if seen && m.Status == fsm.NodeFailed && time.Since(m.Since) > a.cfg.DeadVoterGrace && string(s.ID) != a.cfg.NodeID {
				failedVoters = append(failedVoters, s)
			}
		case alive:
			healthyNonvoters = append(healthyNonvoters, s)
		}
	}
	healthyVoters := len(voters) - len(failedVoters)
	if healthyVoters < a.cfg.Voters && len(healthyNonvoters) > 0 {
		nv := healthyNonvoters[0]
		if err := a.raft.AddVoter(nv.ID, nv.Address, 0, 0).Error(); err != nil {
			a.logger.Warn("promote non-voter", "id", nv.ID, "error", err)
			return
		}
		a.logger.Info("promoted non-voter to voter", "id", nv.ID, "healthy_voters", healthyVoters)
		return
	}
	if len(failedVoters) > 0 && len(voters) > a.cfg.Voters {
		dead := failedVoters[0]
		if err := a.raft.RemoveServer(dead.ID, 0, 0).Error(); err != nil {
			a.logger.Warn("remove failed voter", "id", dead.ID, "error", err)
			return
		}
		a.logger.Info("removed voter that stayed failed", "id", dead.ID, "grace", a.cfg.DeadVoterGrace)
	}
}

// nodeChanged reports whether gossip metadata differs from the FSM's record.
// Gossip carries the host's own labels, which the record keeps as HostLabels.
func nodeChanged(have, want fsm.Node) bool {
	return have.Name != want.Name || have.RaftAddr != want.RaftAddr || have.APIAddr != want.APIAddr ||
		have.GossipAddr != want.GossipAddr || have.Version != want.Version || have.Capacity != want.Capacity ||
		have.Hypervisor != want.Hypervisor || !maps.Equal(have.HostLabels, want.Labels) ||
		!slices.Equal(have.Networks, want.Networks) || have.CPUOvercommit != want.CPUOvercommit
}
