// Package sampler samples a host and each of its VMs every 10 s into the
// host's metrics history (package metricstore) and into per-VM series on
// /metrics (novacron_vm_*), and answers other nodes' reads of that
// history, so that any node can show a VM's charts, stitched from every
// host that ran it.
//
// The VM counters come from the hypervisor in one bulk call
// (hypervisor.StatsReader); two samples make the rates charted
// (hypervisor.Rates). The host's come from /proc and the data dir's file
// system (package hoststats).
package sampler

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hoststats"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/metricstore"
)

// VMs names the VMs a host samples (the FSM).
type VMs interface {
	VM(id string) (fsm.VM, error)
}

// Config is what a Sampler needs.
type Config struct {
	NodeID, NodeName string
	// Interval is the sampling period (DefaultInterval).
	Interval time.Duration
	Store    *metricstore.Store
	// Stats reads the VMs' counters; nil samples the host alone.
	Stats hypervisor.StatsReader
	VMs   VMs
	// DataDir is the folder whose file system the host's disk figures
	// describe.
	DataDir string
	Logger  *slog.Logger
}

// DefaultInterval is the issue's: a sample every 10 s.
const DefaultInterval = 10 * time.Second

// Sampler samples one host.
type Sampler struct {
	cfg  Config
	log  *slog.Logger
	prom *promSeries

	mu       sync.Mutex
	prevHost *hoststats.Sample
	prevVM   map[string]hypervisor.DomainStats
}

// New returns a Sampler; Run drives it.
func New(cfg Config) *Sampler {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sampler{cfg: cfg, log: cfg.Logger.With("component", "sampler"), prom: newPromSeries(cfg.NodeName),
		prevVM: map[string]hypervisor.DomainStats{}}
}

// Run samples every Interval until ctx ends, and once a day drops the
// series of VMs gone for a year.
func (s *Sampler) Run(ctx context.Context) {
	defer s.Close()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	lastGC := time.Now()
	for {
		s.Sample(ctx)
		if time.Since(lastGC) > 24*time.Hour {
			if n, err := s.cfg.Store.GC(time.Now().AddDate(-1, 0, 0)); err != nil || n > 0 {
				s.log.Info("metrics history: dropped the series of a year ago", "removed", n, "error", err)
			}
			lastGC = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close takes this host's VM series off /metrics (Run does when it ends).
func (s *Sampler) Close() { s.prom.close() }

// Sample takes one sample of the host and its VMs.
func (s *Sampler) Sample(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sampleHost()
	if s.cfg.Stats == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Interval)
	defer cancel()
	stats, err := s.cfg.Stats.DomainStats(ctx)
	if err != nil {
		s.log.Warn("reading the VMs' counters", "error", err)
		return
	}
	seen := make(map[string]hypervisor.DomainStats, len(stats))
	for _, cur := range stats {
		seen[cur.ID] = cur
		vm, err := s.cfg.VMs.VM(cur.ID)
		if err != nil {
			continue // not a VM of the cluster's (yet, or any more)
		}
		s.prom.setVM(vm, cur)
		prev, ok := s.prevVM[cur.ID]
		if !ok {
			// The first sample here (a VM just started or arrived by
			// migration): its memory now, its rates from the next one.
			prev = cur
		}
		r := hypervisor.Rates(prev, cur)
		if err := s.cfg.Store.Write(VMKey(cur.ID), VMFields, r.At, vmValues(r)); err != nil {
			s.log.Warn("writing a VM's metrics", "vm", vm.Spec.Name, "error", err)
		}
	}
	s.prevVM = seen
	s.prom.keepOnly(seen)
}

func (s *Sampler) sampleHost() {
	cur, err := hoststats.Read(s.cfg.DataDir)
	if err != nil {
		s.log.Warn("reading the host's figures", "error", err)
		return
	}
	cpu := math.NaN()
	if s.prevHost != nil {
		if p, ok := hoststats.CPUPercent(*s.prevHost, cur); ok {
			cpu = p
		}
	}
	s.prevHost = &cur
	values := []float64{cpu, float64(cur.MemUsedBytes), float64(cur.MemTotalBytes), cur.Load1, cur.Load5, cur.Load15,
		float64(cur.DiskUsedBytes), float64(cur.DiskTotalBytes)}
	if err := s.cfg.Store.Write(NodeKey(s.cfg.NodeID), NodeFields, cur.At, values); err != nil {
		s.log.Warn("writing the host's metrics", "error", err)
	}
}

// VMKey and NodeKey name a VM's and a host's series in the history.
func VMKey(id string) string   { return "vm/" + id }
func NodeKey(id string) string { return "node/" + id }

// VMFields are a VM's charted figures, in the history's order: CPU (percent
// of its vCPUs, and host cores), memory (bytes), disk and network rates.
var VMFields = []string{"cpu_percent", "cpu_cores", "mem_used_bytes", "mem_max_bytes", "balloon_bytes",
	"disk_read_bytes_per_s", "disk_write_bytes_per_s", "disk_read_ops_per_s", "disk_write_ops_per_s",
	"net_rx_bytes_per_s", "net_tx_bytes_per_s", "net_rx_packets_per_s", "net_tx_packets_per_s"}

// NodeFields are a host's: CPU busy percent, memory, load, and the data
// dir's disk.
var NodeFields = []string{"cpu_percent", "mem_used_bytes", "mem_total_bytes", "load1", "load5", "load15",
	"disk_used_bytes", "disk_total_bytes"}

// vmValues lines r up with VMFields; a group without a figure this
// interval is NaN (missing), never zero.
func vmValues(r hypervisor.VMRates) []float64 {
	nan := math.NaN()
	v := []float64{nan, nan, float64(r.MemoryUsedBytes), float64(r.MemoryMaxBytes), float64(r.BalloonBytes),
		nan, nan, nan, nan, nan, nan, nan, nan}
	if r.HasCPU {
		v[0], v[1] = r.CPUPercent, r.CPUCores
	}
	if r.HasDisk {
		v[5], v[6], v[7], v[8] = r.DiskReadBytesPerSec, r.DiskWriteBytesPerSec, r.DiskReadOpsPerSec, r.DiskWriteOpsPerSec
	}
	if r.HasNet {
		v[9], v[10], v[11], v[12] = r.NetRxBytesPerSec, r.NetTxBytesPerSec, r.NetRxPacketsPerSec, r.NetTxPacketsPerSec
	}
	return v
}
