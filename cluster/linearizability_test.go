package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Chaos tests: a steady load of register writes (fsm.UpdateVM through
// Agent.Apply on a random node, forwarded by followers) and linearizable reads
// (Agent.ConsistentIndex, then the node's own FSM at that index), while nodes
// are killed, restarted and partitioned. The recorded history must be
// linearizable (porcupine), no acknowledged write may be lost, and every node
// must end with the same FSM.

// registerModel is a set of integer registers, one per VM, all 0 at first.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.Write {
			return true, in.Value
		}
		return output.(int64) == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.Write {
			return fmt.Sprintf("w(reg-%d, %d)", in.Key, in.Value)
		}
		return fmt.Sprintf("r(reg-%d) -> %d", in.Key, output)
	},
	Hash:          func(state any) uint64 { return uint64(state.(int64)) },
	DescribeState: func(state any) string { return fmt.Sprint(state) },
	DescribeOperationMetadata: func(info any) string {
		m := info.(opMeta)
		if m.Maybe {
			return fmt.Sprintf("via %s, maybe applied: %s", m.Node, m.Err)
		}
		return fmt.Sprintf("via %s at index %d", m.Node, m.Index)
	},
}

// finish stops the load, waits until every node holds the same state, reads
// every register on every node into the history, and checks it.
func (r *chaosRun) finish() {
	t := r.t
	t.Helper()
	r.cancel()
	r.wg.Wait()
	leader := r.c.waitLeader()
	r.waitIdentical()
	r.checkGossip(leader)
	// The final reads go through every node; the leader's are the registers'
	// final values.
	final := map[int]int64{}
	for i, n := range r.c.nodes {
		if n.down {
			continue
		}
		for k := range r.keys {
			op, err := r.read(context.Background(), n.agent, n.cfg.NodeName, chaosWriters+chaosReaders+chaosKeys+i, k)
			if err != nil {
				t.Errorf("final read of reg-%d on %s: %v (its gossip members: %s)", k, n.cfg.NodeName, err, gossipView(n.agent))
				break
			}
			r.ops = append(r.ops, op)
			if n == leader {
				final[k] = op.Output.(int64)
			}
		}
	}
	if len(final) != len(r.keys) {
		t.Fatalf("could not read the final values through the leader %s", leader.cfg.NodeName)
	}
	// A maybe-applied write may take effect at any time after its call: it
	// returns at the end of the history, after everything else.
	end := r.now() + 1
	maybe := 0
	for i := range r.ops {
		if r.ops[i].Metadata.(opMeta).Maybe {
			r.ops[i].Return = end
			maybe++
		}
	}
	history := pruneUnseen(r.ops)
	t.Logf("history: %d ops over %s (writes: %d acked, %d maybe-applied of which %d seen by a read, %d refused by the FSM; reads: %d ok, %d failed, %d more right after an election), %d elections won",
		len(history), r.elapsed(), r.writesOK.Load(), maybe, maybe-(len(r.ops)-len(history)), r.writesRefused.Load(), r.readsOK.Load(), r.readsFailed.Load(), r.probes.Load(), r.leaderChanges.Load())
	if maybe > 0 {
		t.Logf("maybe-applied writes by error: %s", maybeCauses(r.ops))
	}
	if r.writesOK.Load() == 0 || r.readsOK.Load() == 0 {
		t.Fatal("the load made no progress at all")
	}

	for _, s := range staleReads(r.ops) {
		t.Errorf("stale read: %s", s)
	}
	r.checkAckedWrites(final)

	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registerModel, history, 60*time.Second)
	t.Logf("porcupine: %s in %s", res, time.Since(began).Round(time.Millisecond))
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Errorf("the history is not linearizable; visualization: %s", r.visualize(info))
	default:
		t.Errorf("porcupine could not decide within its timeout (%s)", res)
	}
}

// pruneUnseen drops the maybe-applied writes whose value no read returned. Such
// a write returns at the end of the history, so it can always be linearized
// last, where it changes nothing anyone saw: the history is linearizable with
// it exactly when it is without it. Left in, each one doubles the states the
// checker may have to visit to prove a violation.
func pruneUnseen(ops []porcupine.Operation) []porcupine.Operation {
	seen := map[[2]int64]bool{}
	for _, op := range ops {
		if in := op.Input.(regInput); !in.Write {
			seen[[2]int64{int64(in.Key), op.Output.(int64)}] = true
		}
	}
	var out []porcupine.Operation
	for _, op := range ops {
		in := op.Input.(regInput)
		if in.Write && op.Metadata.(opMeta).Maybe && !seen[[2]int64{int64(in.Key), in.Value}] {
			continue
		}
		out = append(out, op)
	}
	return out
}

// visualize writes porcupine's HTML view of the history to a file that
// outlives the test and returns its path.
func (r *chaosRun) visualize(info porcupine.LinearizationInfo) string {
	f, err := os.CreateTemp("", "novacron-"+strings.ReplaceAll(r.t.Name(), "/", "_")+"-*.html")
	if err != nil {
		return "(not written: " + err.Error() + ")"
	}
	f.Close()
	if err := porcupine.VisualizePath(registerModel, info, f.Name()); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	return f.Name()
}

// staleReads lists reads that no linearization can explain, found directly so
// that a violation comes with evidence: a read of a value that does not exist,
// or of a value whose write was followed by a completed write before the read
// began. It is a subset of what porcupine finds, and cheap.
func staleReads(ops []porcupine.Operation) []string {
	type write struct{ call, ret int64 }
	writes := map[int64]write{0: {0, 0}} // the value the VMs were created with
	byKey := map[int][]porcupine.Operation{}
	for _, op := range ops {
		in := op.Input.(regInput)
		if in.Write {
			writes[in.Value] = write{op.Call, op.Return}
			if !op.Metadata.(opMeta).Maybe {
				byKey[in.Key] = append(byKey[in.Key], op)
			}
		}
	}
	var out []string
	for _, op := range ops {
		in := op.Input.(regInput)
		if in.Write {
			continue
		}
		v, m := op.Output.(int64), op.Metadata.(opMeta)
		w, ok := writes[v]
		if !ok {
			out = append(out, fmt.Sprintf("reg-%d read %d via %s (read index %d) at %s: no such value was ever written", in.Key, v, m.Node, m.Index, time.Duration(op.Call)))
			continue
		}
		for _, later := range byKey[in.Key] {
			if later.Call > w.ret && later.Return < op.Call {
				out = append(out, fmt.Sprintf("reg-%d read %d via %s (read index %d) at %s, but %d was acked at %s (index %d) after %d was written",
					in.Key, v, m.Node, m.Index, time.Duration(op.Call), later.Input.(regInput).Value, time.Duration(later.Return), later.Metadata.(opMeta).Index, v))
				break
			}
		}
		if len(out) >= 20 {
			break
		}
	}
	return out
}

// checkAckedWrites checks that every register's final value is one that may
// legally be last: an acknowledged write that no other acknowledged write
// followed, or a maybe-applied write. When one acknowledged write came after
// all the others and no maybe-applied write was issued after it, the final
// value must be exactly that write's.
func (r *chaosRun) checkAckedWrites(final map[int]int64) {
	t := r.t
	t.Helper()
	acked, maybe := map[int][]porcupine.Operation{}, map[int][]porcupine.Operation{}
	for _, op := range r.ops {
		if in := op.Input.(regInput); in.Write {
			if op.Metadata.(opMeta).Maybe {
				maybe[in.Key] = append(maybe[in.Key], op)
			} else {
				acked[in.Key] = append(acked[in.Key], op)
			}
		}
	}
	for k := range r.keys {
		allowed := map[int64]bool{}
		var last []porcupine.Operation
		for _, w := range acked[k] {
			followed := false
			for _, o := range acked[k] {
				followed = followed || o.Call > w.Return
			}
			if !followed {
				last = append(last, w)
				allowed[w.Input.(regInput).Value] = true
			}
		}
		if len(acked[k]) == 0 {
			allowed[0] = true
		}
		for _, w := range maybe[k] {
			allowed[w.Input.(regInput).Value] = true
		}
		if !allowed[final[k]] {
			t.Errorf("reg-%d ends at %d, which is neither its last acknowledged write %v nor a maybe-applied one: an acknowledged write was lost",
				k, final[k], describe(last))
			continue
		}
		if len(last) != 1 {
			continue
		}
		l := last[0]
		later := false
		for _, w := range maybe[k] {
			later = later || w.Call > l.Call
		}
		if !later && final[k] != l.Input.(regInput).Value {
			t.Errorf("reg-%d ends at %d, but its last acknowledged write %v came after every other write: a maybe-applied write issued before it took effect after it",
				k, final[k], describe(last))
		}
	}
}

func describe(ops []porcupine.Operation) string {
	var s []string
	for _, op := range ops {
		m := op.Metadata.(opMeta)
		s = append(s, fmt.Sprintf("%d (via %s, index %d, %s..%s)", op.Input.(regInput).Value, m.Node, m.Index, time.Duration(op.Call), time.Duration(op.Return)))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
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
	r.load(time.Second)
	for i := 0; i < 5; i++ {
		old := c.waitLeader()
		r.kill(old)
		r.newLeader(old)
		r.load(time.Second)
		r.revive(old)
		r.waitCaughtUp(old)
		r.load(time.Second)
	}
	r.finish()
}

func TestChaos_LeaderPartitionedFromMajority(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 5, 5)
	r := newChaosRun(t, c)
	r.load(time.Second)
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
		t.Logf("%7s %s leads the majority", r.elapsed(), leader.cfg.NodeName)
		r.load(2 * time.Second)
		r.heal()
		c.waitLeader()
		r.waitCaughtUp(old)
		r.load(time.Second)
	}
	r.finish()
}

func TestChaos_TwoOfFiveVotersKilled(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 5, 5)
	r := newChaosRun(t, c)
	r.load(time.Second)
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
		r.load(2 * time.Second)
		for _, v := range victims {
			r.revive(v)
		}
		for _, v := range victims {
			r.waitCaughtUp(v)
		}
		r.load(time.Second)
	}
	r.finish()
}

func TestChaos_WholeClusterRestart(t *testing.T) {
	skipChaos(t)
	c := newTestCluster(t, 3, 3)
	r := newChaosRun(t, c)
	r.load(2 * time.Second)
	for round := 0; round < 2; round++ {
		for _, n := range c.nodes {
			r.kill(n)
		}
		for _, n := range c.nodes {
			r.revive(n)
		}
		leader := c.waitLeader()
		t.Logf("%7s %s leads after the restart", r.elapsed(), leader.cfg.NodeName)
		r.load(3 * time.Second)
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
			if _, ok := n.agent.gossip.memberByID(leader.cfg.NodeID); !ok {
				lost = append(lost, n.cfg.NodeName+" sees "+gossipView(n.agent))
			}
		}
		return lost
	}
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for lost := knows(); len(lost) > 0; lost = knows() {
		if time.Now().After(deadline) {
			t.Errorf("after 5 s some nodes still do not know the leader %s through gossip, so they cannot forward: %s", leader.cfg.NodeName, strings.Join(lost, "; "))
			return
		}
		<-tick.C
	}
}

// maybeCauses counts the maybe-applied writes by node and error, the errors
// cut short at their first colon-separated detail that varies (addresses).
func maybeCauses(ops []porcupine.Operation) string {
	counts := map[string]int{}
	for _, op := range ops {
		if m := op.Metadata.(opMeta); m.Maybe {
			msg := m.Err
			if i := strings.Index(msg, "127.0.0.1"); i >= 0 {
				msg = msg[:i] + "..."
			}
			counts[m.Node+": "+msg]++
		}
	}
	var s []string
	for k, n := range counts {
		s = append(s, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(s)
	return strings.Join(s, "; ")
}

// gossipView is how a node sees the members, for failure messages.
func gossipView(a *Agent) string {
	var s []string
	for _, m := range a.Status().Members {
		s = append(s, fmt.Sprintf("%s=%s", m.Name, m.Status))
	}
	return strings.Join(s, " ")
}
