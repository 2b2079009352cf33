package sampler

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/metricstore"
)

// BenchmarkSampler_100VMs is one sampling round of a host running 100 VMs
// (the sim driver's bulk stats, the rates, 101 series written to the
// history and 1,300 series on /metrics), and reports its CPU time as a
// share of one core at one round every 10 s (the figure: under 1%).
// The libvirt driver's bulk call is one more round trip to libvirtd (see
// docs/BENCHMARKS.md).
func BenchmarkSampler_100VMs(b *testing.B) {
	ctx := context.Background()
	clk := testutil.NewClock(time.Now().Truncate(10 * time.Second))
	drv := sim.New(sim.Config{Name: "h1", VCPUs: 400, MemoryMiB: 1 << 20, DiskGiB: 10000, Now: clk.Now, Registry: sim.NewRegistry()})
	defer drv.Close()
	store, err := metricstore.Open(b.TempDir(), metricstore.Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	vms := fakeVMs{}
	for i := range 100 {
		id := fmt.Sprintf("vm-%03d", i)
		vms[id] = fsm.VM{ID: id, Project: "prod", Spec: fsm.VMSpec{Name: "web-" + id}}
		if err := drv.Start(ctx, hypervisor.DomainSpec{ID: id, Name: "web-" + id, VCPUs: 2, MemoryMiB: 512, DiskGiB: 1}); err != nil {
			b.Fatal(err)
		}
	}
	s := New(Config{NodeID: "n1", NodeName: "h1", Store: store, Stats: drv, VMs: vms, DataDir: b.TempDir()})
	defer s.Close()
	s.Sample(ctx)
	start := cpuTime()
	b.ResetTimer()
	for range b.N {
		clk.Advance(10 * time.Second)
		s.Sample(ctx)
	}
	b.StopTimer()
	perRound := (cpuTime() - start) / time.Duration(b.N)
	b.ReportMetric(float64(perRound.Microseconds()), "cpu-us/round")
	b.ReportMetric(100*perRound.Seconds()/DefaultInterval.Seconds(), "core-%-at-10s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
