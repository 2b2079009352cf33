package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/chaos"
	"github.com/novacron/novacron/internal/testutil"
)

// The linearizability chaos tests on real processes: internal/chaos's load of
// 200 register writes/s and 200 consistent reads/s goes through the HTTP API of
// random agents (PUT and GET ?consistent on /api/v1/vms/{id}) while the test
// SIGKILLs and restarts agent processes. The history must be linearizable, no
// acknowledged write may be lost, and every agent must end with the same state
// digest. The in-process tests in node/ run the same load through
// Agent.Apply; labtest cuts a leader off the network with iptables.
//
// Unlike the package's other tests they do not call t.Parallel: they run first
// and alone, because their load and their fault timings need the CPU to
// themselves, which another test's elections would take.

const chaosRegisters = 10

// chaosRun is one scenario on a real cluster.
type chaosRun struct {
	t    *testing.T
	c    *testCluster
	keys []string
	load *chaos.Run

	mu      sync.Mutex
	targets map[*agent]chaos.Target // the agents the load may use now
}

// registerSpec is register k's spec holding value v.
func registerSpec(k int, v int64) client.VMRequest {
	return client.VMRequest{Name: fmt.Sprintf("reg-%d", k), VCPUs: 1, MemoryMiB: 64, DiskGiB: 1,
		Labels: map[string]string{"v": strconv.FormatInt(v, 10)}}
}

// newChaosRun creates the registers through the leader's API, waits until
// every agent holds them, and starts the load.
func newChaosRun(t *testing.T, c *testCluster) *chaosRun {
	t.Helper()
	r := &chaosRun{t: t, c: c, targets: map[*agent]chaos.Target{}}
	leader := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k := range chaosRegisters {
		vm, err := leader.client(c.token).CreateVM(ctx, registerSpec(k, 0))
		if err != nil {
			t.Fatalf("create register %d: %v", k, err)
		}
		r.keys = append(r.keys, vm.ID)
	}
	last := leader.client(c.token).LastIndex()
	for _, a := range c.running() {
		if _, err := a.client(c.token).WithReadOptions(client.ReadOptions{WaitIndex: last}).VMs(ctx, client.ListVMsOptions{}); err != nil {
			t.Fatalf("%s never applied the registers: %v", a.name, err)
		}
		r.targets[a] = r.target(a)
	}
	r.load = chaos.Start(chaos.Config{Name: t.Name(), Keys: r.keys}, r.live)
	return r
}

func (r *chaosRun) target(a *agent) chaos.Target {
	tg, err := chaos.NewHTTPTarget(a.name, a.addr(), r.c.token, testTLSConfig(r.t), registerSpec)
	if err != nil {
		r.t.Fatal(err)
	}
	return tg
}

func (r *chaosRun) live() []chaos.Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]chaos.Target, 0, len(r.targets))
	for _, tg := range r.targets {
		out = append(out, tg)
	}
	return out
}

// kill takes a off the clients' list and SIGKILLs its process.
func (r *chaosRun) kill(a *agent) {
	r.mu.Lock()
	delete(r.targets, a)
	r.mu.Unlock()
	a.kill()
	r.t.Logf("%7s killed %s", r.load.Elapsed(), a.name)
}

// revive starts a again from its data dir and, once its API answers, hands it
// back to the clients.
func (r *chaosRun) revive(a *agent) {
	a.start()
	testutil.Eventually(r.t, formTimeout, a.name+"'s API", func() error {
		_, err := a.client("").Health(context.Background())
		return err
	})
	r.mu.Lock()
	r.targets[a] = r.target(a)
	r.mu.Unlock()
	r.t.Logf("%7s restarted %s", r.load.Elapsed(), a.name)
}

// run lets the clients run for d: the scenario wants d of traffic before its
// next fault, not a condition.
func (r *chaosRun) run(d time.Duration) { <-time.After(d) }

// newLeader waits until the running agents agree on a leader other than old.
func (r *chaosRun) newLeader(old *agent) *agent {
	r.t.Helper()
	var leader *agent
	testutil.Eventually(r.t, formTimeout, "a new leader", func() error {
		if leader = r.c.leader(); leader == old {
			return fmt.Errorf("%s still leads", old.name)
		}
		return nil
	})
	r.t.Logf("%7s %s leads", r.load.Elapsed(), leader.name)
	return leader
}

// finish stops the load, waits until every agent shows the same state digest,
// reads every register through every agent (the leader's answers are the
// final values), and checks the history.
func (r *chaosRun) finish() {
	t := r.t
	t.Helper()
	r.load.Stop()
	leader := r.c.leader()
	r.c.waitFormed(len(r.c.agents))
	var apis []*client.Client
	var targets []chaos.Target
	for _, a := range r.c.running() {
		apis = append(apis, a.client(r.c.token))
		targets = append(targets, r.target(a))
	}
	sameCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ds, err := client.WaitSameState(sameCtx, apis, 100*time.Millisecond)
	cancel()
	if err != nil {
		t.Fatalf("the nodes do not hold the same state: %v", err)
	}
	t.Logf("every node at index %d holds state %.12s (%d nodes, %d VMs, %d failovers)", ds[0].AppliedIndex, ds[0].SHA256, ds[0].Nodes, ds[0].VMs, ds[0].Failovers)
	// What an operator runs to check the same: the CLI asks every member that
	// the leader's gossip shows alive. A member restarted a moment ago may
	// still flap to suspect there (memberlist refutes it within a probe or
	// two), so the command is run again until it sees every member.
	want := fmt.Sprintf("All %d alive members hold the same state", len(apis))
	var res testutil.CLIResult
	if _, err := testutil.Poll(10*time.Second, 500*time.Millisecond, func() error {
		res = runCLI(t, leader.addr(), r.c.token, "cluster", "verify")
		if res.Code != 0 || !strings.Contains(res.Stdout, want) {
			return errors.New("not every member verified")
		}
		return nil
	}); err != nil {
		t.Errorf("cluster verify: %s", res)
	}
	rep := r.load.Finish(context.Background(), targets, leader.name, 60*time.Second)
	rep.Write(t)
}

// chaosCluster starts n agents that all vote.
func chaosCluster(t *testing.T, n int) *testCluster {
	if testing.Short() {
		t.Skip("chaos test: starts real agents and runs 15 to 30 s of load and faults")
	}
	return startCluster(t, n, func(_ int, cfg *agentConfig) {
		cfg.extra = []string{"--voters", strconv.Itoa(n)}
	})
}

func TestChaosHTTP_LeaderKilledRepeatedly(t *testing.T) {
	c := chaosCluster(t, 3)
	r := newChaosRun(t, c)
	r.run(time.Second)
	for range 4 {
		old := c.leader()
		r.kill(old)
		r.newLeader(old)
		r.run(time.Second)
		r.revive(old)
		r.run(2 * time.Second)
	}
	r.finish()
}

func TestChaosHTTP_TwoOfFiveVotersKilled(t *testing.T) {
	c := chaosCluster(t, 5)
	r := newChaosRun(t, c)
	r.run(time.Second)
	// First two followers, then the leader and a follower, picked at random.
	for round := range 2 {
		leader := c.leader()
		followers := c.followers(leader)
		rand.Shuffle(len(followers), func(i, j int) { followers[i], followers[j] = followers[j], followers[i] })
		victims := followers[:2]
		if round == 1 {
			victims = []*agent{leader, followers[0]}
		}
		for _, v := range victims {
			r.kill(v)
		}
		if round == 1 {
			r.newLeader(leader)
		}
		r.run(3 * time.Second)
		for _, v := range victims {
			r.revive(v)
		}
		r.run(2 * time.Second)
	}
	r.finish()
}

func TestChaosHTTP_WholeClusterRestart(t *testing.T) {
	c := chaosCluster(t, 3)
	r := newChaosRun(t, c)
	r.run(2 * time.Second)
	for range 2 {
		for _, a := range c.agents {
			r.kill(a)
		}
		for _, a := range c.agents {
			r.revive(a)
		}
		t.Logf("%7s %s leads after the restart", r.load.Elapsed(), c.leader().name)
		r.run(3 * time.Second)
	}
	r.finish()
}
