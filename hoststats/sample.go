// Package hoststats samples the host an agent runs on: its CPU, memory, load
// and the disk holding its data folder, from /proc and statfs. A sample holds
// cumulative CPU counters, so the busy share of the CPUs over an interval
// comes from two samples (CPUPercent); the rest are levels at the moment of
// the sample.
//
// It reads Linux's /proc; the folder is a parameter (ReadFrom) so tests read
// fixtures and an agent in a container can read its host's /proc mounted
// elsewhere.
package hoststats

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// Sample is the host's figures at one moment.
type Sample struct {
	// At is when the sample was read.
	At time.Time
	// CPUBusy and CPUTotal are the time all CPUs spent busy and in total
	// since boot, in the kernel's clock ticks (USER_HZ, 1/100 s): only
	// their differences between two samples mean anything (CPUPercent).
	// Idle time includes I/O wait (a CPU waiting for a disk could run
	// something else), and busy time includes steal (time the hypervisor
	// under this host gave to others, which the host could not use).
	CPUBusy  uint64
	CPUTotal uint64
	// CPUs is the number of CPUs online.
	CPUs int
	// Memory in bytes: MemAvailable is what can be given to new work
	// without swapping (free memory and reclaimable caches), and MemUsed is
	// MemTotal less it.
	MemTotalBytes     uint64
	MemAvailableBytes uint64
	MemUsedBytes      uint64
	// Load1, Load5 and Load15 are the load averages over 1, 5 and 15
	// minutes: runnable and uninterruptible tasks, not divided by CPUs.
	Load1, Load5, Load15 float64
	// The file system holding the data folder, in bytes: its size, what is
	// used, and what is still free for unprivileged writers (the root
	// reserve excluded; Used + Available can be less than Total).
	DiskTotalBytes     uint64
	DiskUsedBytes      uint64
	DiskAvailableBytes uint64
}

// Read samples this host: /proc, and the file system holding dataDir (none
// when dataDir is empty).
func Read(dataDir string) (Sample, error) {
	return ReadFrom("/proc", dataDir)
}

// ReadFrom is Read with /proc found at procDir.
func ReadFrom(procDir, dataDir string) (Sample, error) {
	s := Sample{At: time.Now()}
	var err error
	if s.CPUBusy, s.CPUTotal, s.CPUs, err = readCPU(filepath.Join(procDir, "stat")); err != nil {
		return Sample{}, err
	}
	if s.MemTotalBytes, s.MemAvailableBytes, err = readMemory(filepath.Join(procDir, "meminfo")); err != nil {
		return Sample{}, err
	}
	s.MemUsedBytes = s.MemTotalBytes - min(s.MemAvailableBytes, s.MemTotalBytes)
	if s.Load1, s.Load5, s.Load15, err = readLoad(filepath.Join(procDir, "loadavg")); err != nil {
		return Sample{}, err
	}
	if dataDir != "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dataDir, &st); err != nil {
			return Sample{}, fmt.Errorf("measure the file system of %s: %w", dataDir, err)
		}
		// Block counts are in fragment units; Linux reports Frsize = Bsize
		// for nearly every file system, and some old ones leave it 0.
		unit := uint64(st.Frsize)
		if unit == 0 {
			unit = uint64(st.Bsize)
		}
		s.DiskTotalBytes = st.Blocks * unit
		s.DiskUsedBytes = (st.Blocks - min(st.Bfree, st.Blocks)) * unit
		s.DiskAvailableBytes = st.Bavail * unit
	}
	return s, nil
}

// CPUPercent is the share of the host's CPU time that was busy between two
// samples, from 0 to 100 (100: every CPU busy all the time). ok is false
// when the samples give no interval (the same moment, out of order, or
// counters that went back, as across a reboot).
func CPUPercent(prev, cur Sample) (percent float64, ok bool) {
	if cur.CPUTotal <= prev.CPUTotal || cur.CPUBusy < prev.CPUBusy {
		return 0, false
	}
	// Capped: I/O wait, part of idle, is known to step back on some
	// kernels, which shrinks the total a little.
	return min(100*float64(cur.CPUBusy-prev.CPUBusy)/float64(cur.CPUTotal-prev.CPUTotal), 100), true
}
