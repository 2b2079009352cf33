package sampler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/metricstore"
)

type fakeVMs map[string]fsm.VM

func (f fakeVMs) VM(id string) (fsm.VM, error) {
	if vm, ok := f[id]; ok {
		return vm, nil
	}
	return fsm.VM{}, fmt.Errorf("%w: vm %s", fsm.ErrNotFound, id)
}

// prometheusText is what /metrics shows of the registered sets.
func prometheusText() string {
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	return b.String()
}

// A host samples its VMs into the history and onto /metrics; a VM that
// stops leaves /metrics, its history stays.
func TestSampler_WritesHistoryAndPrometheusSeries(t *testing.T) {
	ctx := context.Background()
	clk := testutil.NewClock(time.Now().Truncate(10 * time.Second))
	drv := sim.New(sim.Config{Name: "h1", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100, Now: clk.Now, Registry: sim.NewRegistry()})
	defer drv.Close()
	store, err := metricstore.Open(t.TempDir(), metricstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	vms := fakeVMs{"vm-1": {ID: "vm-1", Project: "prod", Spec: fsm.VMSpec{Name: "web"}}}
	if err := drv.Start(ctx, hypervisor.DomainSpec{ID: "vm-1", Name: "web", VCPUs: 2, MemoryMiB: 512, DiskGiB: 1}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{NodeID: "n1", NodeName: "h1", Store: store, Stats: drv, VMs: vms, DataDir: t.TempDir()})
	defer s.Close()
	for range 4 {
		clk.Advance(10 * time.Second)
		s.Sample(ctx)
	}
	res, err := store.Query(VMKey("vm-1"), clk.Now().Add(-time.Minute), clk.Now().Add(time.Second), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var withCPU, withMemory int
	for _, p := range res.Points {
		if !math.IsNaN(p.Avg[3]) {
			withMemory++
		}
		if !math.IsNaN(p.Avg[0]) {
			withCPU++
			if p.Avg[0] < 0 || p.Avg[0] > 100 || p.Avg[3] != 512<<20 {
				t.Errorf("point %+v: cpu %v%%, memory max %v, want 0-100 and 512 MiB", p.At, p.Avg[0], p.Avg[3])
			}
		}
	}
	if withCPU != 3 || withMemory != 4 {
		t.Fatalf("%d points with a CPU figure and %d with memory from 4 samples, want 3 (the first has no rate) and 4: %+v", withCPU, withMemory, res.Points)
	}
	if _, err := store.Query(NodeKey("n1"), clk.Now().Add(-time.Minute), clk.Now(), 10*time.Second); err != nil {
		t.Fatalf("the host's own series: %v", err)
	}
	series := `novacron_vm_cpu_seconds_total{vm="web",vm_id="vm-1",project="prod",node="h1"}`
	if text := prometheusText(); !strings.Contains(text, series) || !strings.Contains(text, `novacron_vm_memory_max_bytes{vm="web",vm_id="vm-1",project="prod",node="h1"} 536870912`) {
		t.Fatalf("/metrics lacks the VM's series:\n%s", text)
	}
	if err := drv.Destroy(ctx, "vm-1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	s.Sample(ctx)
	if text := prometheusText(); strings.Contains(text, `vm_id="vm-1"`) {
		t.Fatalf("a stopped VM's series stay on /metrics:\n%s", text)
	}
}

// Another node reads this one's history over the internal route; a key
// it does not hold is 404, bad parameters 400.
func TestHistory_ServesPeers(t *testing.T) {
	now := time.Now().Truncate(10 * time.Second)
	store, err := metricstore.Open(t.TempDir(), metricstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := range 6 {
		at := now.Add(time.Duration(i-6) * 10 * time.Second)
		if err := store.Write(NodeKey("n1"), NodeFields, at, []float64{float64(i), 1, 2, 3, 4, 5, 6, 7}); err != nil {
			t.Fatal(err)
		}
	}
	local := &History{Self: "n1", Local: store}
	srv := httptest.NewServer(local)
	defer srv.Close()
	remote := &History{Self: "n2", Peers: peers{srv.URL}}
	from, to := now.Add(-time.Minute), now
	want, err := local.Query(context.Background(), "n1", NodeKey("n1"), from, to, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Query(context.Background(), "n1", NodeKey("n1"), from, to, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Points) != len(want.Points) || got.Step != want.Step || len(got.Points) == 0 || got.Points[5].Avg[0] != want.Points[5].Avg[0] {
		t.Fatalf("over the wire %+v, locally %+v", got, want)
	}
	if _, err := remote.Query(context.Background(), "n1", VMKey("nope"), from, to, 10*time.Second); !errors.Is(err, metricstore.ErrNotFound) {
		t.Fatalf("an unknown series: %v, want not found", err)
	}
	resp, err := http.Get(srv.URL + PathPrefix + NodeKey("n1") + "?from=x&to=1&step=10")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad from: HTTP %d, want 400", resp.StatusCode)
	}
}

// peers reaches every node at one test server.
type peers struct{ url string }

func (p peers) PeerGet(ctx context.Context, _, path string, _ http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// A counter the driver could not read keeps its last value on /metrics,
// rather than dropping to zero (a reset in Prometheus's eyes).
func TestPromSeries_MissingCountersKeepTheirValue(t *testing.T) {
	p := newPromSeries("h1")
	defer p.close()
	vm := fsm.VM{ID: "vm-9", Project: "prod", Spec: fsm.VMSpec{Name: "db"}}
	p.setVM(vm, hypervisor.DomainStats{ID: vm.ID, DiskReadBytes: 4096, NetRxBytes: 100})
	p.setVM(vm, hypervisor.DomainStats{ID: vm.ID, DiskMissing: true, NetRxBytes: 200})
	text := prometheusText()
	for _, want := range []string{`novacron_vm_disk_read_bytes_total{vm="db",vm_id="vm-9",project="prod",node="h1"} 4096`,
		`novacron_vm_network_receive_bytes_total{vm="db",vm_id="vm-9",project="prod",node="h1"} 200`} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
