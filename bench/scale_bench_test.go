//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// BenchmarkScale fills a cluster with 100,000 VMs and measures what its users
// see (issue 12): three agents (Raft voters), the first also simulating 1,000
// hosts that run the VMs; the other two offer almost nothing, so the VMs go
// to the fleet. Every figure is reported as a metric:
//
//   - fill-creates/s: 64 clients creating the VMs through all three agents;
//   - list-*-p50-ms and -p99-ms: GET /api/v1/vms on a follower, the first page (500), a
//     page of one host's VMs (?node=) and of a label (?label=, every tenth
//     VM), 100 requests each;
//   - update-p50-ms-empty and -full: one VM's PUT to the leader, on an empty cluster and on
//     the full one;
//   - rss-MB: the largest agent's resident memory, full;
//   - catchup-s: a follower killed, 2,000 more VMs created, then restarted:
//     from its start to its applied index reaching the leader's commit index
//     of that moment;
//   - pending-idle-cpu-%: the leader's CPU over 20 s with 10,000 VMs that fit
//     nowhere and nothing changing, and the same before they were created.
//
// One call does all of it, whatever b.N.
func BenchmarkScale(b *testing.B) {
	const fleet, vms, clients = 1000, 100_000, 64
	small := []string{"--sim-vcpus", "1", "--sim-memory-mib", "1024", "--sim-disk-gib", "10"}
	c, err := newAgentClusterWith(3, false, map[int][]string{
		0: {"--sim-fleet", strconv.Itoa(fleet), "--sim-memory-mib", "65536", "--sim-vcpus", "256", "--sim-disk-gib", "1000"},
		1: small, 2: small,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	b.StopTimer()
	leader, err := c.waitReady(60 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := testutil.Poll(2*time.Minute, 200*time.Millisecond, func() error {
		nodes, err := leader.api.Nodes(ctx)
		if err == nil && len(nodes) < fleet+3 {
			err = fmt.Errorf("%d of %d nodes registered", len(nodes), fleet+3)
		}
		return err
	}); err != nil {
		b.Fatalf("fleet not registered: %v", err)
	}
	var follower *agent
	for _, a := range c.agents[1:] {
		if a != leader {
			follower = a
			break
		}
	}
	probe, err := leader.api.CreateVM(ctx, client.VMRequest{Name: "scale-probe", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(updateP50(b, leader.api, probe.Name), "update-p50-ms-empty")

	b.StartTimer()
	start := time.Now()
	st := runLoad(ctx, clients, vms, func(ctx context.Context, worker int, seq uint64) error {
		req := client.VMRequest{Name: fmt.Sprintf("scale-%d", seq), VCPUs: 1, MemoryMiB: 1, DiskGiB: 1}
		if seq%10 == 0 {
			req.Labels = map[string]string{"tier": "db"}
		}
		_, err := c.agents[worker%len(c.agents)].api.CreateVM(ctx, req)
		return err
	})
	if st.Errors > 0 {
		b.Fatalf("%d of %d creates failed", st.Errors, vms)
	}
	b.ReportMetric(float64(vms)/time.Since(start).Seconds(), "fill-creates/s")
	b.StopTimer()
	metricsURL := fmt.Sprintf("%s://127.0.0.1:%d/metrics", c.scheme, leader.http)
	if _, err := testutil.Poll(5*time.Minute, 100*time.Millisecond, func() error {
		pending, total, err := vmGauges(c.hc, metricsURL)
		if err == nil && (total < vms || pending > 0) {
			err = fmt.Errorf("%v of %v vms pending", pending, total)
		}
		return err
	}); err != nil {
		b.Fatalf("vms not placed: %v", err)
	}

	fleetHost := fmt.Sprintf("%s-sim-%05d", c.agents[0].name, 7)
	for _, l := range []struct{ name, query string }{
		{"first-page", ""},
		{"by-node", "node=" + url.QueryEscape(fleetHost)},
		{"by-label", "label=" + url.QueryEscape("tier=db")},
	} {
		p50, p99 := listLatency(b, c, follower, l.query)
		b.ReportMetric(p50, "list-"+l.name+"-p50-ms")
		b.ReportMetric(p99, "list-"+l.name+"-p99-ms")
	}
	b.ReportMetric(updateP50(b, leader.api, probe.Name), "update-p50-ms-full")
	reportRSS(b, c, "rss-MB", true)

	// Catch-up: the follower misses 2,000 creates, then restarts.
	if err := c.kill(follower); err != nil {
		b.Fatal(err)
	}
	runLoad(ctx, clients, 2000, func(ctx context.Context, worker int, seq uint64) error {
		return createVM(ctx, leader.api, writeSeq.Add(1))
	})
	cl, err := leader.api.Cluster(ctx)
	if err != nil {
		b.Fatal(err)
	}
	restarted := time.Now()
	if err := c.restart(follower); err != nil {
		b.Fatal(err)
	}
	took, err := testutil.Poll(2*time.Minute, 20*time.Millisecond, func() error {
		h, err := follower.api.Health(ctx)
		if err == nil && h.AppliedIndex < cl.CommitIndex {
			err = fmt.Errorf("applied %d of %d", h.AppliedIndex, cl.CommitIndex)
		}
		return err
	})
	if err != nil {
		b.Fatalf("restarted follower not caught up after %v: %v", took, err)
	}
	b.ReportMetric(time.Since(restarted).Seconds(), "catchup-s")

	// Pending VMs that fit nowhere (every fleet host runs VMs, and no host
	// has more than 65,536 MiB) cost the leader next to nothing while
	// nothing changes.
	idle := leaderIdleCPU(b, c, leader)
	runLoad(ctx, clients, 10_000, func(ctx context.Context, worker int, seq uint64) error {
		_, err := leader.api.CreateVM(ctx, client.VMRequest{Name: fmt.Sprintf("scale-big-%d", writeSeq.Add(1)), VCPUs: 1, MemoryMiB: 65536, DiskGiB: 1})
		return err
	})
	if _, err := testutil.Poll(time.Minute, 100*time.Millisecond, func() error {
		pending, _, err := vmGauges(c.hc, metricsURL)
		if err == nil && pending < 9_999 { // one may fit on the fleet agent's own host
			err = fmt.Errorf("%v vms pending", pending)
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(idle, "idle-cpu-%")
	b.ReportMetric(leaderIdleCPU(b, c, leader), "pending-idle-cpu-%")
}

// updateP50 is the p50 of 100 updates of one VM's spec through api.
func updateP50(b *testing.B, api *client.Client, name string) float64 {
	lat := make([]time.Duration, 0, 100)
	for i := range 100 {
		req := client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: int64(1 + i%2), DiskGiB: 1}
		start := time.Now()
		if _, err := api.UpdateVM(context.Background(), name, req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return ms(lat[len(lat)/2])
}

// listLatency is the p50 and p99 of 100 GETs of /api/v1/vms?query on agent a.
func listLatency(b *testing.B, c *agentCluster, a *agent, query string) (p50, p99 float64) {
	u := fmt.Sprintf("%s://127.0.0.1:%d/api/v1/vms?%s", c.scheme, a.http, query)
	lat := make([]time.Duration, 0, 100)
	for range 100 {
		start := time.Now()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+benchToken)
		resp, err := c.hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", u, resp.Status)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])
}

// leaderIdleCPU is the leader's CPU over 20 s, in percent of one core.
func leaderIdleCPU(b *testing.B, c *agentCluster, leader *agent) float64 {
	pid := leader.cmd.Process.Pid
	before, err := procCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	const window = 20 * time.Second
	time.Sleep(window) // the measure is CPU over a fixed window
	after, err := procCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return 100 * float64(after-before) / float64(window)
}
