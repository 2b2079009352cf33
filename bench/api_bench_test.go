//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// TestMain removes the agent binary built for the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBinary()
	os.Exit(code)
}

// openAgents returns newAgentClusterWith(3, insecure) for runWithFixture.
func openAgents(insecure bool) func() (*agentCluster, error) {
	return func() (*agentCluster, error) { return newAgentClusterWith(3, insecure, nil) }
}

// BenchmarkAPICreateVM measures VM creation through the HTTP API of a 3-agent
// cluster: each iteration is one POST /api/v1/vms with a unique name, answered
// 201. "leader" sends every request to the leader; "spread" sends client i's
// requests to node i mod 3, so two thirds are forwarded by a follower. "tls"
// is the production path (HTTPS, mutual TLS between nodes); "insecure" the
// same cluster with --insecure, side by side. "tenant" is "leader" with the
// key of a user who is an operator in one project, scoped to it, instead of
// the root key: every request builds that user's rights from its bindings
// (issue 14). Each case gets a fresh cluster.
func BenchmarkAPICreateVM(b *testing.B) {
	cases := []struct {
		security string
		target   string
		clients  int
	}{
		{"tls", "leader", 1}, {"insecure", "leader", 1},
		{"tls", "leader", 64}, {"insecure", "leader", 64},
		{"tls", "tenant", 1}, {"tls", "tenant", 64},
		{"tls", "spread", 64}, {"insecure", "spread", 64},
		{"tls", "leader", 256},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%s/clients=%d", tc.security, tc.target, tc.clients)
		runWithFixture(b, name, openAgents(tc.security == "insecure"), (*agentCluster).close,
			func(b *testing.B, c *agentCluster) {
				leader, err := c.waitReady(60 * time.Second)
				if err != nil {
					b.Fatal(err)
				}
				targets := []*client.Client{leader.api}
				if tc.target == "tenant" {
					targets = []*client.Client{tenantClient(b, leader.api)}
				}
				if tc.target == "spread" {
					targets = nil
					for _, a := range c.agents {
						targets = append(targets, a.api)
					}
				}
				before, err := leader.api.Cluster(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				cpu := startCPU(c.pids()...)
				st := benchLoad(b, tc.clients, func(ctx context.Context, worker int, seq uint64) error {
					return createVM(ctx, targets[worker%len(targets)], seq)
				})
				reportCPU(b, cpu, st.Ops)
				after, err := leader.api.Cluster(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if st.Ops > 0 {
					// Creates plus what they caused (hosts reporting the VM running)
					// while the load ran; reports still queued are not counted.
					b.ReportMetric(float64(after.CommitIndex-before.CommitIndex)/float64(st.Ops), "raft-entries/write")
				}
				reportRSS(b, c, "loaded-rss-MB", false)
			})
	}
}

// BenchmarkAPIFailover measures the time from SIGKILL of the leader agent to
// the first VM creation acknowledged again, with a client that retries POST
// /api/v1/vms every 20 ms, alternating between the surviving agents. The killed
// agent is restarted from its data dir between rounds. One call runs every
// round, whatever b.N.
func BenchmarkAPIFailover(b *testing.B) {
	b.StopTimer()
	c, err := newAgentCluster(3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	rounds := make([]time.Duration, 0, failoverRounds)
	b.StartTimer() // a call must take its real time, or the testing package calls again with a larger b.N
	start := time.Now()
	for range max(b.N, failoverRounds) {
		old, err := c.waitReady(60 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		var survivors []*client.Client
		for _, a := range c.agents {
			if a != old {
				survivors = append(survivors, a.api)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		killed := time.Now()
		if err := c.kill(old); err != nil {
			b.Fatal(err)
		}
		d, err := firstWriteAfter(ctx, killed, func(ctx context.Context, try int) error {
			rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
			defer rcancel()
			return createVM(rctx, survivors[try%len(survivors)], writeSeq.Add(1))
		})
		cancel()
		if err != nil {
			b.Fatalf("round %d: %v", len(rounds)+1, err)
		}
		rounds = append(rounds, d)
		if err := c.restart(old); err != nil {
			b.Fatal(err)
		}
	}
	reportRounds(b, rounds, time.Since(start))
}

// idlePeriod is how long a fresh cluster idles before its memory is read.
const idlePeriod = 10 * time.Second

// BenchmarkAgentIdleRSS reports the resident memory of each agent of a fresh
// 3-agent cluster that has been idle for 10 s (rss-MB is the largest of the
// three), and the CPU the three used in those 10 s. One call measures
// once, whatever b.N.
func BenchmarkAgentIdleRSS(b *testing.B) {
	b.StopTimer()
	c, err := newAgentCluster(3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	b.StartTimer()
	cpu := startCPU(c.pids()...)
	idle := time.NewTimer(idlePeriod) // a measured idle period, not a wait for a condition
	<-idle.C
	_, agents := cpu.stop()
	// What an idle cluster costs: the three agents' CPU, as a share of one
	// core (heartbeats, gossip, leases, Raft's commit notices).
	b.ReportMetric(100*agents.Seconds()/idlePeriod.Seconds(), "idle-cpu-%")
	reportRSS(b, c, "rss-MB", true)
}

// reportRSS reports the largest VmRSS of the running agents under unit and,
// with detail, logs each agent's VmRSS and VmHWM (peak).
func reportRSS(b *testing.B, c *agentCluster, unit string, detail bool) {
	b.Helper()
	var worst float64
	var parts []string
	for _, a := range c.agents {
		if a.cmd == nil {
			continue
		}
		pid := a.cmd.Process.Pid
		rss, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			b.Fatalf("%s: %v", a.name, err)
		}
		hwm, _ := procStatusKB(pid, "VmHWM")
		worst = max(worst, float64(rss)/1024)
		parts = append(parts, fmt.Sprintf("%s %.1f MB (peak %.1f)", a.name, float64(rss)/1024, float64(hwm)/1024))
	}
	b.ReportMetric(worst, unit)
	if detail {
		b.Logf("%s: %v", unit, parts)
	}
}

// tenantClient returns a client of root's whose key belongs to a user who is
// an operator in project "bench", scoped to that project: what a team's
// script uses. The benchmark's body runs several times on one cluster, so
// the project and the user may exist already; each run makes a new key.
func tenantClient(b *testing.B, root *client.Client) *client.Client {
	ctx := context.Background()
	const pw = "bench user password"
	if _, err := root.CreateProject(ctx, client.ProjectRequest{Name: "bench"}); err != nil && !isConflict(err) {
		b.Fatal(err)
	}
	if _, err := root.CreateUser(ctx, client.UserRequest{Name: "bench-op", Password: pw}); err != nil && !isConflict(err) {
		b.Fatal(err)
	}
	if _, err := root.SetMember(ctx, "bench", client.ProjectMember{User: "bench-op", Role: "operator"}); err != nil {
		b.Fatal(err)
	}
	l, err := root.Login(ctx, "bench-op", pw)
	if err != nil {
		b.Fatal(err)
	}
	key, err := root.WithToken(l.Token).CreateToken(ctx, client.TokenRequest{Name: fmt.Sprintf("bench-key-%d", time.Now().UnixNano()), Role: "operator", Project: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return root.WithToken(key.Secret)
}

// isConflict reports an API answer of 409 conflict (the name exists).
func isConflict(err error) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.Code == "conflict"
}
