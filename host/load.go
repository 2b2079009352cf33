package host

import (
	"context"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// Hosts measure their VMs' load and send it to the leader every
// LoadReportInterval. The leader keeps it in memory only: load changes every
// second and matters only to the current leader's rebalancer, so writing it to
// Raft would cost a log entry per host per interval for nothing.

// loadReportLoop measures the host's VMs from the driver's counters and sends
// them to the leader.
func (a *Host) loadReportLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.LoadReportInterval)
	defer ticker.Stop()
	var prev map[string]hypervisor.Stats
	var prevAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		stats, err := a.driver.Stats(ctx)
		if err != nil {
			a.logger.Debug("reading vm counters for load", "error", err)
			continue
		}
		now := time.Now()
		report := fsm.LoadReport{Node: a.cfg.NodeID, VMs: make(map[string]fsm.VMLoad, len(stats))}
		for id, s := range stats {
			l := fsm.VMLoad{MemoryMiB: s.MemoryMiB}
			if p, ok := prev[id]; ok && s.CPUTime >= p.CPUTime {
				l.CPUCores = float64(s.CPUTime-p.CPUTime) / float64(now.Sub(prevAt))
			}
			report.VMs[id] = l
		}
		prev, prevAt = stats, now
		if err := a.loads.ReportLoad(ctx, report); err != nil {
			a.logger.Debug("sending load to the leader", "error", err)
		}
	}
}
