package node

import (
	"context"
	"fmt"
	"github.com/novacron/novacron/cluster"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/chaos"
)

// Chaos tests: a steady load of register writes and linearizable reads
// (internal/chaos) through random nodes of an in-process cluster, while nodes
// are killed, restarted and partitioned. The recorded history must be
// linearizable (internal/chaos: the zone test, checked by porcupine), no acknowledged write may be lost, and every node
// must end with the same FSM. e2e and labtest run the same load through the
// HTTP API of real processes.

// finish stops the load, waits until every node holds the same state, reads
// every register on every node into the history (the leader's answers are the
// final values), and checks it.
func (r *chaosRun) finish() {
	t := r.t
	t.Helper()
	r.load.Stop()
	leader := r.c.waitLeader()
	r.c.waitConverged()
	r.checkGossip(leader)
	var targets []chaos.Target
	for _, n := range r.c.up() {
		targets = append(targets, agentTarget{n.agent, n.cfg.Cluster.NodeName, r.root})
	}
	rep := r.load.Finish(context.Background(), targets, leader.cfg.Cluster.NodeName, 60*time.Second)
	rep.Write(t)
}

func skipChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: 10 to 20 s of load and faults")
	}
}

func TestChaos_LeaderKilledRepeatedly(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 3, 3)
	r := newChaosRun(t, c)
	r.run(time.Second)
	for i := 0; i < 5; i++ {
		old := c.waitLeader()
		r.kill(old)
		r.newLeader(old)
		r.run(time.Second)
		r.revive(old)
		r.waitCaughtUp(old)
		r.run(time.Second)
	}
	r.finish()
}

func TestChaos_LeaderPartitionedFromMajority(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 5, 5)
	r := newChaosRun(t, c)
	r.run(time.Second)
	for i := 0; i < 2; i++ {
		old := c.waitLeader()
		r.isolate(old)
		var leader *testNode
		waitFor(t, 15*time.Second, "the majority elects a leader and the isolated one steps down", func() bool {
			leader = nil
			for _, n := range c.up() {
				if n != old && n.agent.IsLeader() {
					leader = n
				}
			}
			return leader != nil && !old.agent.IsLeader()
		})
		t.Logf("%7s %s leads the majority", r.elapsed(), leader.cfg.Cluster.NodeName)
		r.run(2 * time.Second)
		r.heal()
		c.waitLeader()
		r.waitCaughtUp(old)
		r.run(time.Second)
	}
	r.finish()
}

func TestChaos_TwoOfFiveVotersKilled(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 5, 5)
	r := newChaosRun(t, c)
	r.run(time.Second)
	// First two followers, then the leader and a follower, picked at random.
	for round := 0; round < 2; round++ {
		leader := c.waitLeader()
		followers := c.followers()
		rand.Shuffle(len(followers), func(i, j int) { followers[i], followers[j] = followers[j], followers[i] })
		victims := followers[:2]
		if round == 1 {
			victims = []*testNode{leader, followers[0]}
		}
		for _, v := range victims {
			r.kill(v)
		}
		if round == 1 {
			r.newLeader(leader)
		} else {
			c.waitLeader()
		}
		r.run(2 * time.Second)
		for _, v := range victims {
			r.revive(v)
		}
		for _, v := range victims {
			r.waitCaughtUp(v)
		}
		r.run(time.Second)
	}
	r.finish()
}

func TestChaos_WholeClusterRestart(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 3, 3)
	r := newChaosRun(t, c)
	r.run(2 * time.Second)
	for round := 0; round < 2; round++ {
		for _, n := range c.nodes {
			r.kill(n)
		}
		for _, n := range c.nodes {
			r.revive(n)
		}
		leader := c.waitLeader()
		t.Logf("%7s %s leads after the restart", r.elapsed(), leader.cfg.Cluster.NodeName)
		r.run(3 * time.Second)
	}
	r.finish()
}

// checkGossip checks that every node that is up finds the leader in its gossip
// view, as forwarding needs, within a few seconds of the last fault.
func (r *chaosRun) checkGossip(leader *testNode) {
	t := r.t
	t.Helper()
	knows := func() []string {
		var lost []string
		for _, n := range r.c.up() {
			if ok, _ := n.agent.GossipKnows(leader.cfg.Cluster.NodeID); !ok {
				lost = append(lost, n.cfg.Cluster.NodeName+" sees "+gossipView(n.agent))
			}
		}
		return lost
	}
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for lost := knows(); len(lost) > 0; lost = knows() {
		if time.Now().After(deadline) {
			t.Errorf("after 5 s some nodes still do not know the leader %s through gossip, so they cannot forward: %s", leader.cfg.Cluster.NodeName, strings.Join(lost, "; "))
			return
		}
		<-tick.C
	}
}

// gossipView is how a node sees the members, for failure messages.
func gossipView(a *cluster.Agent) string {
	var s []string
	for _, m := range a.Status().Members {
		s = append(s, fmt.Sprintf("%s=%s", m.Name, m.Status))
	}
	return strings.Join(s, " ")
}
