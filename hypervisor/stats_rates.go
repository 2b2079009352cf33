package hypervisor

import "time"

// VMRates is what a domain did between two samples, per second, and its
// memory at the later one: what a chart of the VM shows.
//
// A group of rates (CPU, disk, network) is left out (its Has flag false)
// when one of its counters went down: the domain started again or arrived
// by migration (its counters restarted from zero), or a disk or interface
// was removed (a sum lost its part). That interval has no figure rather
// than a negative one, or a huge one from an unsigned difference. A restart
// whose new counters have already passed the old ones within one interval
// is not seen: its rate is then too low, never too high. A group is left
// out too when either sample lacks it (DomainStats.DiskMissing, ...), so
// the zeros of a sample the driver could not read fully give neither a
// drop nor, at the next sample, a leap.
type VMRates struct {
	ID string
	// At is the later sample's time; Interval the time between the two.
	At       time.Time
	Interval time.Duration
	// State is the later sample's (a paused domain's rates are zero).
	State DomainState

	// HasCPU says CPUPercent and CPUCores hold this interval's figures.
	HasCPU bool
	// CPUPercent is how busy the domain's vCPUs were: 100 is every vCPU
	// busy the whole interval (the share of its allocation, as Proxmox
	// shows it, so a 1-vCPU and an 8-vCPU VM read alike). It is capped at
	// 100: the CPU time counts the hypervisor's own threads for the guest
	// too, which take a saturated guest a little over.
	CPUPercent float64
	// CPUCores is the host CPU the domain used, in cores (1.5: one and a
	// half cores busy), uncapped: what it cost its host.
	CPUCores float64

	// HasDisk says the Disk rates hold this interval's figures.
	HasDisk              bool
	DiskReadBytesPerSec  float64
	DiskWriteBytesPerSec float64
	DiskReadOpsPerSec    float64
	DiskWriteOpsPerSec   float64

	// HasNet says the Net rates hold this interval's figures (Rx: what the
	// guest received).
	HasNet             bool
	NetRxBytesPerSec   float64
	NetTxBytesPerSec   float64
	NetRxPacketsPerSec float64
	NetTxPacketsPerSec float64

	// Memory at the later sample, as DomainStats has it (bytes).
	MemoryUsedBytes uint64
	MemoryMaxBytes  uint64
	BalloonBytes    uint64
	GuestMemory     bool
}

// Rates turns two samples of one domain into rates over the time between
// them. Samples of different domains, or whose times are not in order (an
// equal time, a clock stepped back), give the memory figures alone.
func Rates(prev, cur DomainStats) VMRates {
	r := VMRates{
		ID: cur.ID, At: cur.At, Interval: cur.At.Sub(prev.At), State: cur.State,
		MemoryUsedBytes: cur.MemoryUsedBytes, MemoryMaxBytes: cur.MemoryMaxBytes,
		BalloonBytes: cur.BalloonBytes, GuestMemory: cur.GuestMemory,
	}
	if prev.ID != cur.ID || r.Interval <= 0 {
		return r
	}
	secs := r.Interval.Seconds()
	r.HasCPU = !prev.CPUMissing && !cur.CPUMissing && cur.CPUTime >= prev.CPUTime
	r.HasDisk = !prev.DiskMissing && !cur.DiskMissing &&
		grew(prev.DiskReadBytes, cur.DiskReadBytes, prev.DiskWriteBytes, cur.DiskWriteBytes,
			prev.DiskReadOps, cur.DiskReadOps, prev.DiskWriteOps, cur.DiskWriteOps)
	r.HasNet = !prev.NetMissing && !cur.NetMissing &&
		grew(prev.NetRxBytes, cur.NetRxBytes, prev.NetTxBytes, cur.NetTxBytes,
			prev.NetRxPackets, cur.NetRxPackets, prev.NetTxPackets, cur.NetTxPackets)
	if r.HasCPU {
		r.CPUCores = (cur.CPUTime - prev.CPUTime).Seconds() / secs
		// A domain whose vCPU count is unknown counts as one vCPU.
		r.CPUPercent = min(100*r.CPUCores/float64(max(cur.VCPUs, 1)), 100)
	}
	if r.HasDisk {
		r.DiskReadBytesPerSec = float64(cur.DiskReadBytes-prev.DiskReadBytes) / secs
		r.DiskWriteBytesPerSec = float64(cur.DiskWriteBytes-prev.DiskWriteBytes) / secs
		r.DiskReadOpsPerSec = float64(cur.DiskReadOps-prev.DiskReadOps) / secs
		r.DiskWriteOpsPerSec = float64(cur.DiskWriteOps-prev.DiskWriteOps) / secs
	}
	if r.HasNet {
		r.NetRxBytesPerSec = float64(cur.NetRxBytes-prev.NetRxBytes) / secs
		r.NetTxBytesPerSec = float64(cur.NetTxBytes-prev.NetTxBytes) / secs
		r.NetRxPacketsPerSec = float64(cur.NetRxPackets-prev.NetRxPackets) / secs
		r.NetTxPacketsPerSec = float64(cur.NetTxPackets-prev.NetTxPackets) / secs
	}
	return r
}

// grew reports whether no counter went down; pairs are (previous, current).
func grew(pairs ...uint64) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] < pairs[i] {
			return false
		}
	}
	return true
}
