//go:build linux

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
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
	const vms = 20000
	runFleet(b, fmt.Sprintf("hosts=%d/vms=%d", fleetHosts, vms), func(b *testing.B, c *agentCluster, metricsURL string) {
		b.ResetTimer()
		start := time.Now()
		createVMs(b, c, vms)
		created := time.Since(start)
		waitPlaced(b, c, metricsURL, vms)
		placed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(vms)/placed.Seconds(), "placed/s")
		b.ReportMetric(float64(vms)/created.Seconds(), "created/s")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkFleetPlacementBacklog measures the placement loop alone, without
// the API's create rate in front of it: every node is drained, 20,000 VMs
// are created and stay pending, then 64 clients undrain the 1,003 nodes and
// the figure is VMs placed per second from the first undrain to the moment
// none is pending. This is a cluster whose capacity comes back (hosts back
// from maintenance, a rack rejoining) with a backlog waiting: each capacity
// change is a full placement pass, every placement a Raft entry (batched)
// replicated to three nodes, and the fleet hosts start the VMs and report
// them meanwhile through the same log.
func BenchmarkFleetPlacementBacklog(b *testing.B) {
	const vms = 20000
	runFleet(b, fmt.Sprintf("hosts=%d/vms=%d", fleetHosts, vms), func(b *testing.B, c *agentCluster, metricsURL string) {
		leader := c.agents[0].api
		nodes, err := leader.Nodes(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		eachNode := func(do func(ctx context.Context, id string) error) {
			st := runLoad(context.Background(), 64, len(nodes), func(ctx context.Context, worker int, seq uint64) error {
				return do(ctx, nodes[int(seq)%len(nodes)].ID)
			})
			if st.Errors > 0 {
				b.Fatalf("%d of %d nodes failed: %v", st.Errors, len(nodes), st.FirstErr)
			}
		}
		// The timer runs through the setup too: the testing package calls
		// a benchmark again while its timed part is under -benchtime, and a
		// second call would build a second backlog on the first.
		eachNode(func(ctx context.Context, id string) error {
			_, err := leader.DrainNode(ctx, id, "placement backlog benchmark")
			return err
		})
		createVMs(b, c, vms)
		if _, err := testutil.Poll(2*time.Minute, 50*time.Millisecond, func() error {
			pending, _, err := vmGauges(c.hc, metricsURL)
			if err == nil && pending < vms {
				err = fmt.Errorf("%v of %d vms pending", pending, vms)
			}
			return err
		}); err != nil {
			b.Fatalf("backlog not built: %v", err)
		}
		c.signal(syscall.SIGUSR1) // NOVACRON_CPU_PROFILE_AFTER=SIGUSR1 profiles from here
		start := time.Now()
		eachNode(func(ctx context.Context, id string) error {
			_, err := leader.UndrainNode(ctx, id)
			return err
		})
		undrained := time.Since(start)
		waitPlaced(b, c, metricsURL, vms)
		placed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(vms)/placed.Seconds(), "placed/s")
		b.ReportMetric(undrained.Seconds()*1000, "undrain-ms")
		b.ReportMetric(0, "ns/op")
	})
}

// fleetHosts is the simulated fleet's size: the first of three agents runs
// that many hosts (--sim-fleet), each a node in the FSM with its own host
// reconciler.
const fleetHosts = 1000

// runFleet starts the three agents with the fleet on the first, waits for
// every host to register and runs body with the leader's /metrics address.
func runFleet(b *testing.B, name string, body func(b *testing.B, c *agentCluster, metricsURL string)) {
	open := func() (*agentCluster, error) {
		return newAgentClusterWith(3, false, map[int][]string{0: {"--sim-fleet", strconv.Itoa(fleetHosts), "--sim-memory-mib", "65536", "--sim-vcpus", "64"}})
	}
	runWithFixture(b, name, open, (*agentCluster).close, func(b *testing.B, c *agentCluster) {
		leader, err := c.waitReady(60 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := testutil.Poll(2*time.Minute, 200*time.Millisecond, func() error {
			nodes, err := leader.api.Nodes(context.Background())
			if err == nil && len(nodes) < fleetHosts+3 {
				err = fmt.Errorf("%d of %d nodes registered", len(nodes), fleetHosts+3)
			}
			return err
		}); err != nil {
			b.Fatalf("fleet not registered: %v", err)
		}
		body(b, c, fmt.Sprintf("%s://127.0.0.1:%d/metrics", c.scheme, leader.http))
	})
}

// createVMs creates n VMs with 64 clients spread over the three agents
// (followers forward to the leader).
func createVMs(b *testing.B, c *agentCluster, n int) {
	st := runLoad(context.Background(), 64, n, func(ctx context.Context, worker int, seq uint64) error {
		return createVM(ctx, c.agents[worker%len(c.agents)].api, seq)
	})
	if st.Errors > 0 {
		b.Fatalf("%d of %d creates failed: %v", st.Errors, n, st.FirstErr)
	}
}

// waitPlaced waits until the leader counts n VMs and none pending.
func waitPlaced(b *testing.B, c *agentCluster, metricsURL string, n int) {
	if _, err := testutil.Poll(5*time.Minute, 20*time.Millisecond, func() error {
		pending, total, err := vmGauges(c.hc, metricsURL)
		if err == nil && (total < float64(n) || pending > 0) {
			err = fmt.Errorf("%v of %v vms pending", pending, total)
		}
		return err
	}); err != nil {
		b.Fatalf("vms not placed after 5 minutes: %v", err)
	}
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
