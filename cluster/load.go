package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/scheduler"
)

// Hosts measure their VMs' load and send it to the leader every
// LoadReportInterval. The leader keeps it in memory only: load changes every
// second and matters only to the current leader's rebalancer, so writing it to
// Raft would cost a log entry per host per interval for nothing.

// loadReport is the body of POST /internal/v1/load.
type loadReport struct {
	Node string                      `json:"node"`
	VMs  map[string]scheduler.VMLoad `json:"vms"`
}

// loadTracker is the leader's memory of recent host load. CPU is smoothed
// (exponential moving average) so one busy second does not move VMs.
type loadTracker struct {
	mu    sync.Mutex
	nodes map[string]scheduler.NodeLoad
}

func newLoadTracker() *loadTracker { return &loadTracker{nodes: map[string]scheduler.NodeLoad{}} }

// smoothing is the weight of a new CPU sample in the moving average.
const smoothing = 0.5

func (t *loadTracker) record(r loadReport, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.nodes[r.Node]
	next := scheduler.NodeLoad{VMs: make(map[string]scheduler.VMLoad, len(r.VMs)), At: at}
	for id, l := range r.VMs {
		if old, ok := prev.VMs[id]; ok {
			l.CPUCores = smoothing*l.CPUCores + (1-smoothing)*old.CPUCores
		}
		next.VMs[id] = l
	}
	t.nodes[r.Node] = next
}

// snapshot returns the loads reported within maxAge of now.
func (t *loadTracker) snapshot(now time.Time, maxAge time.Duration) map[string]scheduler.NodeLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]scheduler.NodeLoad, len(t.nodes))
	for id, l := range t.nodes {
		if now.Sub(l.At) <= maxAge {
			out[id] = l
		}
	}
	return out
}

// loadReporter measures the host's VMs from the driver's counters and sends
// them to the leader.
func (a *Agent) loadReportLoop(ctx context.Context) {
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
		report := loadReport{Node: a.cfg.NodeID, VMs: make(map[string]scheduler.VMLoad, len(stats))}
		for id, s := range stats {
			l := scheduler.VMLoad{MemoryMiB: s.MemoryMiB}
			if p, ok := prev[id]; ok && s.CPUTime >= p.CPUTime {
				l.CPUCores = float64(s.CPUTime-p.CPUTime) / float64(now.Sub(prevAt))
			}
			report.VMs[id] = l
		}
		prev, prevAt = stats, now
		if err := a.sendLoad(ctx, report); err != nil {
			a.logger.Debug("sending load to the leader", "error", err)
		}
	}
}

// sendLoad hands a report to the leader: directly when this node leads.
func (a *Agent) sendLoad(ctx context.Context, r loadReport) error {
	if a.IsLeader() {
		a.loads.record(r, time.Now())
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return a.forwarder.callJSON(cctx, "POST", "/internal/v1/load", r, nil)
}
