//go:build linux

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// BenchmarkFleetPlacement measures VMs placed through Raft into a simulated
// fleet: three agents (Raft voters) of which the first also simulates 1,000
// hosts (--sim-fleet), and 64 clients creating VMs through the API. The
// figure is VMs created and placed per second: from the first create to the
// moment no VM is pending any more, with every placement a Raft entry
// replicated to three nodes (the leader places in batches). The fleet hosts
// then start the VMs and report them running, which competes for the same
// log; that is part of the measure.
func BenchmarkFleetPlacement(b *testing.B) {
	const fleet, vms, clients = 1000, 20000, 64
	open := func() (*agentCluster, error) {
		return newAgentClusterWith(3, false, map[int][]string{0: {"--sim-fleet", strconv.Itoa(fleet), "--sim-memory-mib", "65536", "--sim-vcpus", "64"}})
	}
	runWithFixture(b, fmt.Sprintf("hosts=%d/vms=%d", fleet, vms), open, (*agentCluster).close, func(b *testing.B, c *agentCluster) {
		leader, err := c.waitReady(60 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		metricsURL := fmt.Sprintf("%s://127.0.0.1:%d/metrics", c.scheme, leader.http)
		if _, err := testutil.Poll(2*time.Minute, 200*time.Millisecond, func() error {
			nodes, err := leader.api.Nodes(context.Background())
			if err == nil && len(nodes) < fleet+3 {
				err = fmt.Errorf("%d of %d nodes registered", len(nodes), fleet+3)
			}
			return err
		}); err != nil {
			b.Fatalf("fleet not registered: %v", err)
		}
		b.ResetTimer()
		start := time.Now()
		st := runLoad(context.Background(), clients, vms, func(ctx context.Context, worker int, seq uint64) error {
			return createVM(ctx, c.agents[worker%len(c.agents)].api, seq)
		})
		if st.Errors > 0 {
			b.Fatalf("%d of %d creates failed", st.Errors, vms)
		}
		created := time.Since(start)
		if _, err := testutil.Poll(5*time.Minute, 20*time.Millisecond, func() error {
			pending, total, err := vmGauges(c.hc, metricsURL)
			if err == nil && (total < vms || pending > 0) {
				err = fmt.Errorf("%v of %v vms pending", pending, total)
			}
			return err
		}); err != nil {
			b.Fatalf("vms not placed after 5 minutes: %v", err)
		}
		placed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(vms)/placed.Seconds(), "placed/s")
		b.ReportMetric(float64(vms)/created.Seconds(), "created/s")
		b.ReportMetric(0, "ns/op")
	})
}

// vmGauges reads novacron_vms{state="pending"} and the sum over states.
func vmGauges(hc *http.Client, url string) (pending, total float64, err error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "novacron_vms{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if strings.Contains(line, `state="pending"`) {
			pending = v
		}
	}
	return pending, total, sc.Err()
}
