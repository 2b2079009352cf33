package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// The client side of the linearizability chaos tests: a paced load of register
// writes and linearizable reads against an in-process cluster whose nodes the
// test kills, restarts and partitions meanwhile, recorded as a porcupine history.
//
// Each register is one VM created before the history starts, its value the
// integer in Spec.Labels["v"] (0 at creation). Labels rather than memory_mib so
// that no value can be refused for lack of room on the VM's host.

const (
	chaosKeys = 10
	// Enough clients that the ones stuck behind an election or on a cut-off
	// node (up to the 5 s apply timeout) do not starve the paced load.
	chaosWriters   = 64
	chaosReaders   = 32
	chaosWriteRate = 200 // writes per second, over all writers
	chaosReadRate  = 200 // reads per second, over all readers
	// absentValue is what a read records when the VM is not in the node's FSM
	// at all: the VMs exist before the history starts, so the model never
	// accepts it.
	absentValue int64 = -1
	// garbledValue is what a read records when the label does not parse.
	garbledValue int64 = -2
)

// regInput is one operation on a register: a write of Value, or a read.
type regInput struct {
	Key   int
	Write bool
	Value int64
}

// opMeta says where an operation ran and how it ended, for the visualization
// and the failure messages.
type opMeta struct {
	Node  string
	Index uint64
	Err   string // a maybe-applied write's error
	Maybe bool
}

// chaosRun records the history of one scenario and keeps its own list of the
// agents that are up: client goroutines pick from it, never from the harness's
// testNode fields, which start and stop rewrite.
type chaosRun struct {
	t     *testing.T
	c     *testCluster
	keys  []string
	start time.Time

	mu   sync.Mutex
	live map[*testNode]*Agent
	ops  []porcupine.Operation

	nextValue                           atomic.Int64
	writesOK, writesRefused             atomic.Int64
	readsOK, readsFailed, leaderChanges atomic.Int64
	probes                              atomic.Int64 // reads by probeNewLeaders
	leaderTerm                          uint64       // watchLeader's own

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newChaosRun creates the registers through the leader, waits until every node
// holds them, and starts the load.
func newChaosRun(t *testing.T, c *testCluster) *chaosRun {
	t.Helper()
	r := &chaosRun{t: t, c: c, live: map[*testNode]*Agent{}}
	for _, n := range c.up() {
		r.live[n] = n.agent
	}
	leader := c.waitLeader()
	var last uint64
	for k := 0; k < chaosKeys; k++ {
		id := ids.New()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
		err := n.agent.fsm.WaitForIndex(ctx, last)
		cancel()
		if err != nil {
			t.Fatalf("%s never applied the registers: %v", n.cfg.NodeName, err)
		}
	}
	r.leaderTerm = leader.agent.raft.CurrentTerm()
	r.start = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	writes, reads := r.pacer(ctx, chaosWriteRate), r.pacer(ctx, chaosReadRate)
	for i := 0; i < chaosWriters; i++ {
		r.goClient(func() { r.writer(ctx, i, writes) })
	}
	for i := 0; i < chaosReaders; i++ {
		r.goClient(func() { r.reader(ctx, chaosWriters+i, reads) })
	}
	r.goClient(func() { r.watchLeader(ctx) })
	r.goClient(func() { r.probeNewLeaders(ctx, chaosWriters+chaosReaders) })
	return r
}

// regSpec is register k's spec holding value v.
func regSpec(k int, v int64) fsm.VMSpec {
	return fsm.VMSpec{Name: fmt.Sprintf("reg-%d", k), VCPUs: 1, MemoryMiB: 64, DiskGiB: 1, Labels: map[string]string{"v": strconv.FormatInt(v, 10)}}
}

func (r *chaosRun) goClient(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// pacer hands out perSecond tokens a second. A token nobody is free to take is
// dropped, so clients stuck behind an election do not come back with a burst.
func (r *chaosRun) pacer(ctx context.Context, perSecond int) <-chan struct{} {
	ch := make(chan struct{}, 4)
	r.goClient(func() {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	})
	return ch
}

func (r *chaosRun) now() int64 { return int64(time.Since(r.start)) }

// pick returns a random agent that is up, or nil when none is.
func (r *chaosRun) pick() (*Agent, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.live) == 0 {
		return nil, ""
	}
	i := rand.IntN(len(r.live))
	for n, a := range r.live {
		if i == 0 {
			return a, n.cfg.NodeName
		}
		i--
	}
	return nil, ""
}

func (r *chaosRun) record(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// writer writes fresh values to random registers through random nodes. A write
// refused by the FSM (an fsm sentinel) was committed as a no-op and is left out;
// any other error leaves it unknown whether it was applied, so it is recorded
// as maybe-applied: its return is set to the end of the history when checking.
func (r *chaosRun) writer(ctx context.Context, client int, tokens <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tokens:
		}
		a, node := r.pick()
		if a == nil {
			continue
		}
		key, v := rand.IntN(len(r.keys)), r.nextValue.Add(1)
		call := r.now()
		idx, err := a.Apply(ctx, &fsm.UpdateVM{ID: r.keys[key], Spec: regSpec(key, v), At: time.Now().UTC()})
		ret := r.now()
		in := regInput{Key: key, Write: true, Value: v}
		switch {
		case err == nil:
			r.writesOK.Add(1)
			r.record(porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: opMeta{Node: node, Index: idx}})
		case fsm.ErrorCode(err) != "":
			r.writesRefused.Add(1)
		default:
			r.record(porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: opMeta{Node: node, Err: err.Error(), Maybe: true}})
		}
	}
}

// reader reads random registers linearizably through random nodes; a read that
// fails is dropped.
func (r *chaosRun) reader(ctx context.Context, client int, tokens <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tokens:
		}
		a, node := r.pick()
		if a == nil {
			continue
		}
		key := rand.IntN(len(r.keys))
		op, err := r.read(ctx, a, node, client, key)
		if err != nil {
			r.readsFailed.Add(1)
			continue
		}
		r.readsOK.Add(1)
		r.record(op)
	}
}

// read is one linearizable read: the read index from the leader (through a on
// a follower), then a's own FSM once it has applied that index.
func (r *chaosRun) read(ctx context.Context, a *Agent, node string, client, key int) (porcupine.Operation, error) {
	call := r.now()
	idx, err := a.ConsistentIndex(ctx)
	if err != nil {
		return porcupine.Operation{}, fmt.Errorf("read index: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = a.fsm.WaitForIndex(wctx, idx)
	cancel()
	if err != nil {
		return porcupine.Operation{}, err
	}
	out := absentValue
	vm, err := a.fsm.VM(r.keys[key])
	switch {
	case errors.Is(err, fsm.ErrNotFound):
	case err != nil:
		return porcupine.Operation{}, err
	default:
		out, err = strconv.ParseInt(vm.Spec.Labels["v"], 10, 64)
		if err != nil {
			out = garbledValue
		}
	}
	ret := r.now()
	return porcupine.Operation{ClientId: client, Input: regInput{Key: key}, Output: out, Call: call, Return: ret, Metadata: opMeta{Node: node, Index: idx}}, nil
}

// watchLeader counts the elections won during the run: the terms in which a
// node that is up was seen leading.
func (r *chaosRun) watchLeader(ctx context.Context) {
	for ctx.Err() == nil {
		r.mu.Lock()
		for _, a := range r.live {
			if a.IsLeader() {
				if term := a.raft.CurrentTerm(); term > r.leaderTerm {
					r.leaderTerm = term
					r.leaderChanges.Add(1)
				}
			}
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// probeNewLeaders reads every register through each new leader the moment it
// is seen leading, as a client retrying through an election may: that is when
// a leader may not yet have applied what its predecessor acknowledged. The
// paced readers alone arrive there only by luck.
func (r *chaosRun) probeNewLeaders(ctx context.Context, client int) {
	probed := map[*Agent]uint64{}
	for ctx.Err() == nil {
		type fresh struct {
			a    *Agent
			name string
		}
		var leaders []fresh
		r.mu.Lock()
		for n, a := range r.live {
			if a.IsLeader() {
				if term := a.raft.CurrentTerm(); term > probed[a] {
					probed[a] = term
					leaders = append(leaders, fresh{a, n.cfg.NodeName})
				}
			}
		}
		r.mu.Unlock()
		for _, l := range leaders {
			var wg sync.WaitGroup
			for k := range r.keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if op, err := r.read(ctx, l.a, l.name, client+k, k); err == nil {
						r.probes.Add(1)
						r.record(op)
					}
				}()
			}
			wg.Wait()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
}

// kill crashes node (no leave) after taking it off the clients' list.
func (r *chaosRun) kill(node *testNode) {
	r.mu.Lock()
	delete(r.live, node)
	r.mu.Unlock()
	r.c.stop(node)
	r.t.Logf("%7s killed %s", r.elapsed(), node.cfg.NodeName)
}

// revive restarts node from its data dir and hands it back to the clients.
func (r *chaosRun) revive(node *testNode) {
	r.c.start(node)
	r.mu.Lock()
	r.live[node] = node.agent
	r.mu.Unlock()
	r.t.Logf("%7s restarted %s", r.elapsed(), node.cfg.NodeName)
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
	r.t.Logf("%7s isolated %s's raft traffic", r.elapsed(), node.cfg.NodeName)
}

func (r *chaosRun) heal() {
	r.c.net.heal()
	r.t.Logf("%7s healed the network", r.elapsed())
}

// load lets the clients run for d. Not a wait for a condition: the scenario
// wants d of traffic before its next fault.
func (r *chaosRun) load(d time.Duration) { <-time.After(d) }

func (r *chaosRun) elapsed() string {
	return time.Since(r.start).Round(10 * time.Millisecond).String()
}

// newLeader waits for a leader other than old among the nodes that are up.
func (r *chaosRun) newLeader(old *testNode) *testNode {
	r.t.Helper()
	var leader *testNode
	waitFor(r.t, 15*time.Second, "a new leader", func() bool {
		leader = r.c.waitLeader()
		return leader != old
	})
	r.t.Logf("%7s %s leads", r.elapsed(), leader.cfg.NodeName)
	return leader
}

// waitCaughtUp waits until node has applied what the leader has.
func (r *chaosRun) waitCaughtUp(node *testNode) {
	r.t.Helper()
	target := r.c.waitLeader().agent.fsm.AppliedIndex()
	waitFor(r.t, 15*time.Second, node.cfg.NodeName+" caught up", func() bool {
		return node.agent.fsm.AppliedIndex() >= target
	})
}

// waitIdentical waits until every node that is up has applied the same index
// and then requires identical state. The harness's waitConverged compares the
// states after it saw the indexes match, which the cluster's own background
// writes (host reports, failovers) can overtake; here a comparison counts only
// if no node applied anything while it was made, so any difference it finds is
// a real divergence at one and the same index.
func (r *chaosRun) waitIdentical() {
	t := r.t
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		nodes := r.c.up()
		at := make([]uint64, len(nodes))
		for i, n := range nodes {
			at[i] = n.agent.fsm.AppliedIndex()
		}
		if same(at) && at[0] > 0 {
			var diff string
			for _, n := range nodes[1:] {
				if d := stateDiff(nodes[0].agent.fsm, n.agent.fsm); d != "" && diff == "" {
					diff = fmt.Sprintf("%s and %s hold different state at index %d: %s", nodes[0].cfg.NodeName, n.cfg.NodeName, at[0], d)
				}
			}
			still := true
			for i, n := range nodes {
				still = still && n.agent.fsm.AppliedIndex() == at[i]
			}
			if still {
				if diff != "" {
					t.Fatal(diff)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes never held still at one applied index: %v", at)
		}
		<-tick.C
	}
}

func same(xs []uint64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}
