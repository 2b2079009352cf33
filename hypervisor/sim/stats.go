package sim

import (
	"context"
	"hash/fnv"
	"math"
	"sort"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

var _ hypervisor.StatsReader = (*Driver)(nil)

// DomainStats samples every running or paused domain, sorted by ID, for
// dev mode's and fleet simulations' charts. The figures are a function of
// the VM's ID and of how long it has run (not of wall time), so they are
// the same on every run and stand still while it is paused:
//
//   - CPU time is Stats' (a flat 5% of each vCPU), so the load the host
//     reports and the charts agree;
//   - disk and network counters grow at a rate of the VM's own (drawn from
//     its ID, from a few KiB/s to a few hundred) that swings slowly around
//     it, after a boot burst of disk reads;
//   - used memory climbs from a little to a level of the VM's own over its
//     first minutes, as a guest filling its caches does, and the guest
//     reports it (GuestMemory).
//
// Counters restart from zero when a stopped domain starts again or arrives
// by migration, as a new QEMU's do.
func (d *Driver) DomainStats(ctx context.Context) ([]hypervisor.DomainStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	now := d.cfg.Now()
	out := make([]hypervisor.DomainStats, 0, len(d.domains))
	for _, dom := range d.domains {
		if dom.active() {
			out = append(out, dom.sample(now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Simulated guests' fixed habits.
const (
	bootReadBytes = 48 << 20         // read while booting
	bootTime      = 20 * time.Second // how long the boot's reads take
	readOpBytes   = 32 << 10         // average request and packet sizes
	writeOpBytes  = 8 << 10
	rxPacketBytes = 1200
	txPacketBytes = 400
	// memoryRise is how long a guest takes to get most of the way to its
	// working set.
	memoryRise = 5 * time.Minute
)

// profile is a simulated VM's own rates, drawn from its ID.
type profile struct {
	readRate, writeRate, rxRate, txRate float64 // bytes per second of uptime, on average
	period                              float64 // seconds of one slow swing
	diskPhase, netPhase                 float64
	memoryShare                         float64 // share of its memory it settles at
}

func profileOf(id string) profile {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64()
	// next draws a number in [0, 1) from the hash, 8 bits at a time.
	next := func() float64 {
		v := float64(x&0xff) / 256
		x >>= 8
		return v
	}
	// rate draws on a log scale between lo and hi bytes per second.
	rate := func(lo, hi float64) float64 { return lo * math.Pow(hi/lo, next()) }
	p := profile{
		readRate: rate(4<<10, 256<<10), writeRate: rate(2<<10, 128<<10),
		rxRate: rate(1<<10, 512<<10), period: 240 + 720*next(),
		diskPhase: 2 * math.Pi * next(), netPhase: 2 * math.Pi * next(), memoryShare: 0.3 + 0.5*next(),
	}
	p.txRate = p.rxRate * (0.2 + 1.3*next())
	return p
}

// swing is the integral over [0, up] seconds of 1 + 0.8·sin(2πs/period +
// phase): a rate that swings between 0.2 and 1.8 times its average, whose
// integral (a counter) only grows.
func swing(up, period, phase float64) float64 {
	const depth = 0.8
	return up + depth*period/(2*math.Pi)*(math.Cos(phase)-math.Cos(2*math.Pi*up/period+phase))
}

// uptime is how long the domain has run, read back from its CPU time (which
// grows by cpuLoad per vCPU while it runs).
func (dom *domain) uptime(now time.Time) float64 {
	return dom.cpuTime(now).Seconds() / (float64(max(dom.spec.VCPUs, 1)) * cpuLoad)
}

// sample is the domain's counters at now. d.mu is held.
func (dom *domain) sample(now time.Time) hypervisor.DomainStats {
	p := profileOf(dom.spec.ID)
	up := dom.uptime(now)
	disk := swing(up, p.period, p.diskPhase)
	net := swing(up, p.period, p.netPhase)
	read := uint64(bootReadBytes*min(up/bootTime.Seconds(), 1) + p.readRate*disk)
	write := uint64(p.writeRate * disk)
	rx, tx := uint64(p.rxRate*net), uint64(p.txRate*net)
	maxMem := uint64(dom.spec.MemoryMiB) << 20
	share := 0.1 + (p.memoryShare-0.1)*(1-math.Exp(-up/memoryRise.Seconds()))
	share += 0.03 * math.Sin(2*math.Pi*up/p.period+p.netPhase)
	used := uint64(float64(maxMem) * min(max(share, 0), 1))
	return hypervisor.DomainStats{
		ID: dom.spec.ID, At: now, State: dom.state, CPUTime: dom.cpuTime(now), VCPUs: dom.spec.VCPUs,
		MemoryMaxBytes: maxMem, BalloonBytes: maxMem, MemoryUsedBytes: used, GuestMemory: true,
		DiskReadBytes: read, DiskWriteBytes: write, DiskReadOps: read / readOpBytes, DiskWriteOps: write / writeOpBytes,
		NetRxBytes: rx, NetTxBytes: tx, NetRxPackets: rx / rxPacketBytes, NetTxPackets: tx / txPacketBytes,
	}
}
