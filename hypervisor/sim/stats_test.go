package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

func mustDomainStats(t *testing.T, d *Driver) map[string]hypervisor.DomainStats {
	t.Helper()
	stats, err := d.DomainStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hypervisor.DomainStats{}
	for i, s := range stats {
		if i > 0 && stats[i-1].ID >= s.ID {
			t.Fatalf("samples not sorted by ID: %v then %v", stats[i-1].ID, s.ID)
		}
		out[s.ID] = s
	}
	return out
}

// counters lists a sample's cumulative counters by name.
func counters(s hypervisor.DomainStats) map[string]uint64 {
	return map[string]uint64{
		"cpu": uint64(s.CPUTime), "disk read bytes": s.DiskReadBytes, "disk write bytes": s.DiskWriteBytes,
		"disk read ops": s.DiskReadOps, "disk write ops": s.DiskWriteOps, "net rx bytes": s.NetRxBytes,
		"net tx bytes": s.NetTxBytes, "net rx packets": s.NetRxPackets, "net tx packets": s.NetTxPackets,
	}
}

func TestDomainStats_CountersGrowWhileRunning(t *testing.T) {
	d, clk := newTestDriver(t, 8192)
	ctx := context.Background()
	for _, id := range []string{"b", "a", "c"} {
		if err := d.Start(ctx, spec(id, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Destroy(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	first := mustDomainStats(t, d)
	if len(first) != 2 || first["a"].State != hypervisor.StateRunning {
		t.Fatalf("samples %+v, want a and b running (c is stopped)", first)
	}
	clk.Advance(10 * time.Second)
	second := mustDomainStats(t, d)
	old, _ := d.Stats(ctx)
	for _, id := range []string{"a", "b"} {
		s := second[id]
		for name, v := range counters(s) {
			if v <= counters(first[id])[name] {
				t.Errorf("%s: %s did not grow in 10 s: %d then %d", id, name, counters(first[id])[name], v)
			}
		}
		if s.CPUTime != old[id].CPUTime {
			t.Errorf("%s: CPU time %s, Stats says %s", id, s.CPUTime, old[id].CPUTime)
		}
		if s.VCPUs != 2 || s.MemoryMaxBytes != 1<<30 || s.BalloonBytes != 1<<30 || !s.GuestMemory ||
			s.MemoryUsedBytes == 0 || s.MemoryUsedBytes > s.MemoryMaxBytes {
			t.Errorf("%s: sample %+v", id, s)
		}
		r := hypervisor.Rates(first[id], s)
		if !r.HasCPU || !r.HasDisk || !r.HasNet || r.CPUPercent != 100*cpuLoad || r.Interval != 10*time.Second {
			t.Errorf("%s: rates %+v", id, r)
		}
	}
	if second["a"].DiskWriteBytes == second["b"].DiskWriteBytes || second["a"].NetRxBytes == second["b"].NetRxBytes {
		t.Errorf("two VMs with the same uptime do the same I/O: %+v and %+v", second["a"], second["b"])
	}
}

// Over a day of samples at uneven steps, no counter ever goes down and used
// memory stays within the VM's memory.
func TestDomainStats_CountersNeverGoDown(t *testing.T) {
	d, clk := newTestDriver(t, 8192)
	if err := d.Start(context.Background(), spec("a", 2048)); err != nil {
		t.Fatal(err)
	}
	prev := mustDomainStats(t, d)["a"]
	for i := 0; i < 10000; i++ {
		clk.Advance(time.Duration(1+i%17) * time.Second)
		cur := mustDomainStats(t, d)["a"]
		for name, v := range counters(cur) {
			if v < counters(prev)[name] {
				t.Fatalf("step %d: %s went down: %d then %d", i, name, counters(prev)[name], v)
			}
		}
		if cur.MemoryUsedBytes > cur.MemoryMaxBytes {
			t.Fatalf("step %d: used %d of %d", i, cur.MemoryUsedBytes, cur.MemoryMaxBytes)
		}
		prev = cur
	}
}

func TestDomainStats_PausedStandsStill(t *testing.T) {
	d, clk := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	before := mustDomainStats(t, d)["a"]
	clk.Advance(time.Hour)
	after := mustDomainStats(t, d)["a"]
	if after.State != hypervisor.StatePaused || !after.At.Equal(before.At.Add(time.Hour)) {
		t.Fatalf("paused sample %+v", after)
	}
	after.At = before.At
	if after != before {
		t.Fatalf("a paused VM's figures moved:\n%+v\n%+v", before, after)
	}
}

// The same VM with the same history gives the same figures on another
// host: charts of a fleet simulation are reproducible.
func TestDomainStats_Deterministic(t *testing.T) {
	var samples [2]hypervisor.DomainStats
	for i := range samples {
		d, clk := newTestDriver(t, 4096)
		if err := d.Start(context.Background(), spec("a", 1024)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(17 * time.Minute)
		samples[i] = mustDomainStats(t, d)["a"]
	}
	if samples[0] != samples[1] {
		t.Fatalf("same VM, same uptime, different figures:\n%+v\n%+v", samples[0], samples[1])
	}
}

func TestDomainStats_RestartResetsCounters(t *testing.T) {
	d, clk := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	before := mustDomainStats(t, d)["a"]
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	after := mustDomainStats(t, d)["a"]
	if after.CPUTime >= before.CPUTime || after.DiskReadBytes >= before.DiskReadBytes {
		t.Fatalf("counters after a restart: %+v, before it %+v", after, before)
	}
	if r := hypervisor.Rates(before, after); r.HasCPU || r.HasDisk || r.HasNet {
		t.Fatalf("rates across the restart: %+v", r)
	}
}

func TestDomainStats_ClosedDriver(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	d.Close()
	if _, err := d.DomainStats(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("DomainStats after Close: %v, want ErrClosed", err)
	}
}
