package control

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Hosts measure their VMs' load and send it to the leader every
// LoadReportInterval. The leader keeps it in memory only: load changes every
// second and matters only to the current leader's rebalancer, so writing it to
// Raft would cost a log entry per host per interval for nothing.

// loadTracker is the leader's memory of recent host load. CPU is smoothed
// (exponential moving average) so one busy second does not move VMs.
type loadTracker struct {
	mu    sync.Mutex
	nodes map[string]fsm.NodeLoad
}

func newLoadTracker() *loadTracker { return &loadTracker{nodes: map[string]fsm.NodeLoad{}} }

// smoothing is the weight of a new CPU sample in the moving average.
const smoothing = 0.5

func (t *loadTracker) record(r fsm.LoadReport, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.nodes[r.Node]
	next := fsm.NodeLoad{VMs: make(map[string]fsm.VMLoad, len(r.VMs)), At: at}
	for id, l := range r.VMs {
		if old, ok := prev.VMs[id]; ok {
			l.CPUCores = smoothing*l.CPUCores + (1-smoothing)*old.CPUCores
		}
		next.VMs[id] = l
	}
	t.nodes[r.Node] = next
}

// snapshot returns the loads reported within maxAge of now.
func (t *loadTracker) snapshot(now time.Time, maxAge time.Duration) map[string]fsm.NodeLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]fsm.NodeLoad, len(t.nodes))
	for id, l := range t.nodes {
		if now.Sub(l.At) <= maxAge {
			out[id] = l
		}
	}
	return out
}

// ReportLoad hands a host's load report to the leader's tracker: directly
// when this node leads, else through the internal API.
func (c *Controller) ReportLoad(ctx context.Context, r fsm.LoadReport) error {
	if c.cluster.IsLeader() {
		c.loads.record(r, time.Now())
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.cluster.CallLeader(cctx, "POST", "/internal/v1/load", r, nil)
}

// serveLoad takes a host's load report (POST /internal/v1/load, on the
// leader; kept in memory).
func (c *Controller) serveLoad(r *http.Request) (any, error) {
	var rep fsm.LoadReport
	if err := decodeBody(r, &rep); err != nil {
		return nil, err
	}
	if rep.Node == "" {
		return nil, fmt.Errorf("%w: load report names no node", fsm.ErrMalformed)
	}
	if _, err := c.state.Node(rep.Node); err != nil {
		return nil, err
	}
	c.loads.record(rep, time.Now())
	return struct{}{}, nil
}
