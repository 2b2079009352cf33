package hypervisor

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// sample is a 2-vCPU domain's counters after n seconds of a steady load:
// half a core, 1 MiB/s read in 100 ops/s, and so on.
func sample(n int) DomainStats {
	u := uint64(n)
	return DomainStats{
		ID: "vm", At: t0.Add(time.Duration(n) * time.Second), State: StateRunning,
		CPUTime: time.Duration(n) * 500 * time.Millisecond, VCPUs: 2,
		MemoryMaxBytes: 1 << 30, BalloonBytes: 1 << 30, MemoryUsedBytes: uint64(300+n) << 20, GuestMemory: true,
		DiskReadBytes: u << 20, DiskWriteBytes: u << 19, DiskReadOps: 100 * u, DiskWriteOps: 50 * u,
		NetRxBytes: 2000 * u, NetTxBytes: 1000 * u, NetRxPackets: 20 * u, NetTxPackets: 10 * u,
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRates_SteadyLoad(t *testing.T) {
	r := Rates(sample(100), sample(110))
	if !r.HasCPU || !r.HasDisk || !r.HasNet || r.Interval != 10*time.Second || !r.At.Equal(sample(110).At) {
		t.Fatalf("rates %+v", r)
	}
	want := map[string][2]float64{
		"cpu percent (half a core of 2 vCPUs)": {r.CPUPercent, 25},
		"cpu cores":                            {r.CPUCores, 0.5},
		"disk read bytes/s":                    {r.DiskReadBytesPerSec, 1 << 20},
		"disk write bytes/s":                   {r.DiskWriteBytesPerSec, 1 << 19},
		"disk read ops/s":                      {r.DiskReadOpsPerSec, 100},
		"disk write ops/s":                     {r.DiskWriteOpsPerSec, 50},
		"net rx bytes/s":                       {r.NetRxBytesPerSec, 2000},
		"net tx bytes/s":                       {r.NetTxBytesPerSec, 1000},
		"net rx packets/s":                     {r.NetRxPacketsPerSec, 20},
		"net tx packets/s":                     {r.NetTxPacketsPerSec, 10},
	}
	for what, v := range want {
		if !near(v[0], v[1]) {
			t.Errorf("%s = %v, want %v", what, v[0], v[1])
		}
	}
	if r.MemoryUsedBytes != 410<<20 || r.MemoryMaxBytes != 1<<30 || r.BalloonBytes != 1<<30 || !r.GuestMemory {
		t.Errorf("memory is not the later sample's: %+v", r)
	}
}

func TestRates_CPUPercentIsCappedCoresAreNot(t *testing.T) {
	prev, cur := sample(0), sample(10)
	// 2.1 cores' worth on 2 vCPUs: the emulator's threads on top of a
	// saturated guest.
	cur.CPUTime = 21 * time.Second
	r := Rates(prev, cur)
	if r.CPUPercent != 100 || !near(r.CPUCores, 2.1) {
		t.Fatalf("percent %v cores %v, want 100 and 2.1", r.CPUPercent, r.CPUCores)
	}
	cur.VCPUs = 0 // unknown: one vCPU
	cur.CPUTime = 5 * time.Second
	if r := Rates(prev, cur); !near(r.CPUPercent, 50) {
		t.Fatalf("percent with unknown vCPUs %v, want 50 (of one)", r.CPUPercent)
	}
}

// A restart or a migration restarts every counter: the interval has no
// rates, and the next one has them again.
func TestRates_CounterResetGivesNoRate(t *testing.T) {
	before := sample(1000)
	restarted := sample(3)
	restarted.At = before.At.Add(10 * time.Second)
	r := Rates(before, restarted)
	if r.HasCPU || r.HasDisk || r.HasNet {
		t.Fatalf("rates across a restart: %+v", r)
	}
	if r.CPUPercent != 0 || r.DiskReadBytesPerSec != 0 || r.NetRxBytesPerSec != 0 {
		t.Fatalf("figures without a rate are not zero: %+v", r)
	}
	if r.MemoryUsedBytes != restarted.MemoryUsedBytes {
		t.Fatalf("memory %d, want the new sample's %d", r.MemoryUsedBytes, restarted.MemoryUsedBytes)
	}
	next := sample(13)
	next.At = restarted.At.Add(10 * time.Second)
	if r := Rates(restarted, next); !r.HasCPU || !r.HasDisk || !r.HasNet || !near(r.CPUPercent, 25) {
		t.Fatalf("rates after the restart: %+v", r)
	}
}

// A disk removed takes its counters out of the sums: the disk rates of that
// interval are left out, the others are kept.
func TestRates_OneGroupResetKeepsTheOthers(t *testing.T) {
	prev, cur := sample(100), sample(110)
	cur.DiskWriteOps = prev.DiskWriteOps - 1
	r := Rates(prev, cur)
	if r.HasDisk || r.DiskReadBytesPerSec != 0 || !r.HasCPU || !r.HasNet {
		t.Fatalf("rates %+v, want all but disk", r)
	}
	prev, cur = sample(100), sample(110)
	cur.NetTxPackets = 0
	if r := Rates(prev, cur); r.HasNet || !r.HasDisk || !r.HasCPU {
		t.Fatalf("rates %+v, want all but net", r)
	}
	prev, cur = sample(100), sample(110)
	cur.CPUTime = prev.CPUTime - time.Millisecond
	if r := Rates(prev, cur); r.HasCPU || r.CPUPercent != 0 || !r.HasDisk || !r.HasNet {
		t.Fatalf("rates %+v, want all but cpu", r)
	}
}

func TestRates_NoIntervalGivesMemoryOnly(t *testing.T) {
	same := sample(10)
	back := sample(20)
	back.At = same.At.Add(-time.Second) // the clock stepped back
	other := sample(20)
	other.ID = "another"
	for name, pair := range map[string][2]DomainStats{
		"zero interval":     {same, same},
		"negative interval": {same, back},
		"other domain":      {same, other},
	} {
		r := Rates(pair[0], pair[1])
		if r.HasCPU || r.HasDisk || r.HasNet || r.CPUPercent != 0 || r.NetRxBytesPerSec != 0 {
			t.Errorf("%s: rates %+v", name, r)
		}
		if r.MemoryUsedBytes != pair[1].MemoryUsedBytes || r.ID != pair[1].ID {
			t.Errorf("%s: memory or ID not the later sample's: %+v", name, r)
		}
		if math.IsInf(r.CPUPercent, 0) || math.IsNaN(r.CPUPercent) {
			t.Errorf("%s: cpu percent %v", name, r.CPUPercent)
		}
	}
}

func TestRates_IdleIntervalIsZeroNotMissing(t *testing.T) {
	prev := sample(10)
	cur := prev
	cur.At = prev.At.Add(10 * time.Second)
	cur.State = StatePaused
	r := Rates(prev, cur)
	if !r.HasCPU || !r.HasDisk || !r.HasNet || r.CPUPercent != 0 || r.DiskReadBytesPerSec != 0 {
		t.Fatalf("a paused domain's interval: %+v, want zero rates", r)
	}
}

// A sample the driver could not read fully (a group's counters read zero)
// gives no rate for that group on either side of it: neither a drop to it
// nor a leap back from it.
func TestRates_MissingGroupGivesNoRate(t *testing.T) {
	full1, busy, full2 := sample(100), sample(110), sample(120)
	busy.DiskMissing = true
	busy.DiskReadBytes, busy.DiskWriteBytes, busy.DiskReadOps, busy.DiskWriteOps = 0, 0, 0, 0
	for name, pair := range map[string][2]DomainStats{"into": {full1, busy}, "out of": {busy, full2}} {
		r := Rates(pair[0], pair[1])
		if r.HasDisk || r.DiskReadBytesPerSec != 0 || !r.HasCPU || !r.HasNet {
			t.Errorf("interval %s the sample without disk counters: %+v", name, r)
		}
	}
	cpu, net := sample(110), sample(110)
	cpu.CPUMissing, net.NetMissing = true, true
	if r := Rates(full1, cpu); r.HasCPU || !r.HasDisk || !r.HasNet {
		t.Errorf("without CPU time: %+v", r)
	}
	if r := Rates(net, full2); r.HasNet || !r.HasDisk || !r.HasCPU {
		t.Errorf("without network counters: %+v", r)
	}
}
