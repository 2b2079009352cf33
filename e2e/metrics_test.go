package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Metrics history on a real 3-agent cluster (issue 16), sampling every
// second: a VM's charts answer on a node that does not run it; after the
// VM moves, its history holds the points of both hosts; its host shows its
// series on /metrics; the CLI prints them.
func TestE2E_MetricsHistoryFollowsTheVM(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.extra = append(cfg.extra, "--metrics-interval", "1s") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := c.leader()
	api := leader.client(c.token)
	vm, err := api.CreateVM(ctx, client.VMRequest{Name: "charted", VCPUs: 1, MemoryMiB: 128, DiskGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	var host string
	testutil.Eventually(t, 30*time.Second, "the VM running", func() error {
		v, err := api.VM(ctx, vm.ID)
		if err != nil {
			return err
		}
		if v.State != "running" {
			return fmt.Errorf("vm is %s", v.State)
		}
		host = v.NodeName
		return nil
	})
	var elsewhere *agent
	for _, a := range c.agents {
		if a.name != host {
			elsewhere = a
			break
		}
	}
	cpuPoints := func(h *client.MetricsHistory) (n int) {
		for _, p := range h.Points {
			if p.Avg[0] != nil {
				n++
			}
		}
		return n
	}
	other := elsewhere.client(c.token)
	testutil.Eventually(t, 30*time.Second, "CPU points of the VM, read through "+elsewhere.name, func() error {
		h, err := other.VMMetrics(ctx, vm.ID, client.MetricsQuery{Since: 5 * time.Minute, Step: 10 * time.Second})
		if err != nil {
			return err
		}
		if len(h.Fields) == 0 || h.Fields[0] != "cpu_percent" || cpuPoints(h) == 0 {
			return fmt.Errorf("fields %v, %d points with CPU", h.Fields, cpuPoints(h))
		}
		return nil
	})

	// The VM's host shows it on /metrics, labelled.
	hostAgent := c.byName(host)
	body := scrape(t, hostAgent)
	if want := `novacron_vm_cpu_seconds_total{vm="charted",vm_id="` + vm.ID + `",project="default",node="` + host + `"}`; !strings.Contains(body, want) {
		t.Fatalf("%s's /metrics lacks %s", host, want)
	}

	// Moved to the other node, the VM's history goes on there and keeps
	// what the first host recorded.
	before, err := other.VMMetrics(ctx, vm.ID, client.MetricsQuery{Since: 5 * time.Minute, Step: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.MigrateVM(ctx, vm.ID, client.MigrateRequest{Target: elsewhere.name, Mode: "cold"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the VM running on "+elsewhere.name+" and sampled there", func() error {
		v, err := api.VM(ctx, vm.ID)
		if err != nil {
			return err
		}
		if v.NodeName != elsewhere.name || v.State != "running" {
			return fmt.Errorf("vm is %s on %s", v.State, v.NodeName)
		}
		if !strings.Contains(scrape(t, elsewhere), `vm_id="`+vm.ID+`"`) {
			return fmt.Errorf("not on %s's /metrics yet", elsewhere.name)
		}
		return nil
	})
	testutil.Eventually(t, 30*time.Second, "the history growing on the new host", func() error {
		after, err := api.VMMetrics(ctx, vm.ID, client.MetricsQuery{Since: 5 * time.Minute, Step: 10 * time.Second})
		if err != nil {
			return err
		}
		if cpuPoints(after) <= cpuPoints(before) || firstSampled(after).After(firstSampled(before)) {
			return fmt.Errorf("%d CPU points from %s, had %d from %s", cpuPoints(after), firstSampled(after), cpuPoints(before), firstSampled(before))
		}
		return nil
	})
	if res := runCLI(t, elsewhere.addr(), c.token, "vm", "metrics", "charted", "--since", "5m"); res.Code != 0 || !strings.Contains(res.Stdout, "cpu_percent") || !strings.Contains(res.Stdout, "TREND") {
		t.Fatalf("novacron vm metrics: %s", res)
	}
	if res := runCLI(t, elsewhere.addr(), c.token, "node", "metrics", host); res.Code != 0 || !strings.Contains(res.Stdout, "load1") {
		t.Fatalf("novacron node metrics: %s", res)
	}
}

// firstSampled is the time of the first point with a CPU figure.
func firstSampled(h *client.MetricsHistory) time.Time {
	for _, p := range h.Points {
		if p.Avg[0] != nil {
			return p.At
		}
	}
	return time.Time{}
}

// scrape reads an agent's /metrics.
func scrape(t *testing.T, a *agent) string {
	t.Helper()
	resp, err := testHTTPClient(t).Get(a.addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}
