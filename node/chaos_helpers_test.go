package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/novacron/novacron/cluster"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/chaos"
	"github.com/novacron/novacron/internal/ids"
)

// The cluster side of the linearizability chaos tests (the load and the
// checks are internal/chaos's): an in-process cluster whose nodes the test
// kills, restarts and partitions under the load, each node reached through
// Agent.Apply and Agent.ConsistentIndex.

const chaosKeys = 10

// agentTarget is one in-process node as the chaos load reaches it, writing
// as the root token (root is its ID), as the API would.
type agentTarget struct {
	a    *cluster.Agent
	name string
	root string
}

func (t agentTarget) Name() string { return t.name }

// Write applies the register's new spec. An fsm sentinel means the FSM
// committed it as a no-op: refused.
func (t agentTarget) Write(ctx context.Context, key int, id string, v int64) (uint64, error) {
	idx, err := t.a.Apply(cluster.WithCaller(ctx, t.root), &fsm.UpdateVM{ID: id, Spec: regSpec(key, v), At: time.Now().UTC()})
	if err != nil && fsm.ErrorCode(err) != "" {
		return idx, fmt.Errorf("%w: %w", chaos.ErrRefused, err)
	}
	return idx, err
}

// Read takes the read index from the leader (through a follower), then reads
// the node's own FSM once it has applied that index.
func (t agentTarget) Read(ctx context.Context, id string) (string, bool, uint64, error) {
	idx, err := t.a.ConsistentIndex(ctx)
	if err != nil {
		return "", false, 0, fmt.Errorf("read index: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = t.a.FSM().WaitForIndex(wctx, idx)
	cancel()
	if err != nil {
		return "", false, 0, err
	}
	vm, err := t.a.FSM().VM(id)
	switch {
	case errors.Is(err, fsm.ErrNotFound):
		return "", false, idx, nil
	case err != nil:
		return "", false, 0, err
	}
	return vm.Spec.Labels["v"], true, idx, nil
}

func (t agentTarget) Leading(context.Context) (bool, uint64) {
	return t.a.IsLeader(), t.a.Raft().CurrentTerm()
}

// chaosRun is one scenario: the cluster, the load, and the list of agents that
// are up, which the load's clients pick from (never the harness's testNode
// fields, which start and stop rewrite).
type chaosRun struct {
	t    *testing.T
	c    *testCluster
	keys []string
	load *chaos.Run
	// root is the ID of the root token the load writes as.
	root string

	mu   sync.Mutex
	live map[*testNode]*cluster.Agent
}

// newChaosRun creates the registers through the leader, waits until every node
// holds them, and starts the load.
func newChaosRun(t *testing.T, c *testCluster) *chaosRun {
	t.Helper()
	r := &chaosRun{t: t, c: c, live: map[*testNode]*cluster.Agent{}}
	for _, n := range c.up() {
		r.live[n] = n.agent
	}
	leader := c.waitLeader()
	r.root = rootID(t, leader.agent)
	var last uint64
	for k := 0; k < chaosKeys; k++ {
		id := ids.New()
		ctx, cancel := context.WithTimeout(cluster.WithCaller(context.Background(), r.root), 10*time.Second)
		idx, err := leader.agent.Apply(ctx, &fsm.CreateVM{ID: id, Spec: regSpec(k, 0), At: time.Now().UTC()})
		cancel()
		if err != nil {
			t.Fatalf("create register %d: %v", k, err)
		}
		r.keys = append(r.keys, id)
		last = idx
	}
	for _, n := range c.up() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.agent.FSM().WaitForIndex(ctx, last)
		cancel()
		if err != nil {
			t.Fatalf("%s never applied the registers: %v", n.cfg.Cluster.NodeName, err)
		}
	}
	r.load = chaos.Start(chaos.Config{Name: t.Name(), Keys: r.keys}, r.targets)
	return r
}

// targets is the agents that are up, for the load's clients.
func (r *chaosRun) targets() []chaos.Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]chaos.Target, 0, len(r.live))
	for n, a := range r.live {
		out = append(out, agentTarget{a, n.cfg.Cluster.NodeName, r.root})
	}
	return out
}

// regSpec is register k's spec holding value v.
func regSpec(k int, v int64) fsm.VMSpec {
	return fsm.VMSpec{Name: fmt.Sprintf("reg-%d", k), VCPUs: 1, MemoryMiB: 64, DiskGiB: 1, Labels: map[string]string{"v": strconv.FormatInt(v, 10)}}
}

// kill crashes node (no leave) after taking it off the clients' list.
func (r *chaosRun) kill(node *testNode) {
	r.mu.Lock()
	delete(r.live, node)
	r.mu.Unlock()
	r.c.stop(node)
	r.t.Logf("%7s killed %s", r.elapsed(), node.cfg.Cluster.NodeName)
}

// revive restarts node from its data dir and hands it back to the clients.
func (r *chaosRun) revive(node *testNode) {
	r.c.start(node)
	r.mu.Lock()
	r.live[node] = node.agent
	r.mu.Unlock()
	r.t.Logf("%7s restarted %s", r.elapsed(), node.cfg.Cluster.NodeName)
}

// isolate cuts node's Raft traffic from every other node. Only Raft goes
// through the harness's switchboard (testNetwork): gossip and the internal
// HTTP API are not cut, so the isolated node still sees the others alive, and
// a node that still takes it for the leader can forward to it.
func (r *chaosRun) isolate(node *testNode) {
	for _, other := range r.c.nodes {
		if other != node {
			r.c.net.partition(node.raftAddr(), other.raftAddr())
		}
	}
	r.t.Logf("%7s isolated %s's raft traffic", r.elapsed(), node.cfg.Cluster.NodeName)
}

func (r *chaosRun) heal() {
	r.c.net.heal()
	r.t.Logf("%7s healed the network", r.elapsed())
}

// run lets the clients run for d. Not a wait for a condition: the scenario
// wants d of traffic before its next fault.
func (r *chaosRun) run(d time.Duration) { <-time.After(d) }

func (r *chaosRun) elapsed() string { return r.load.Elapsed() }

// newLeader waits for a leader other than old among the nodes that are up.
func (r *chaosRun) newLeader(old *testNode) *testNode {
	r.t.Helper()
	var leader *testNode
	waitFor(r.t, 15*time.Second, "a new leader", func() bool {
		leader = r.c.waitLeader()
		return leader != old
	})
	r.t.Logf("%7s %s leads", r.elapsed(), leader.cfg.Cluster.NodeName)
	return leader
}

// waitCaughtUp waits until node has applied what the leader has.
func (r *chaosRun) waitCaughtUp(node *testNode) {
	r.t.Helper()
	target := r.c.waitLeader().agent.FSM().AppliedIndex()
	waitFor(r.t, 15*time.Second, node.cfg.Cluster.NodeName+" caught up", func() bool {
		return node.agent.FSM().AppliedIndex() >= target
	})
}
