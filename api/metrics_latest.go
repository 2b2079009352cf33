package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// GET /api/v1/metrics/latest: the newest sample of every VM and host the
// caller may read, in one answer, for the dashboard's CPU and memory
// columns (issue 17): asking each VM's history would be one request per
// row, and a list of 10,000 VMs shows them all. Every alive node is asked
// for its own samples at once (a node answers from memory-mapped rings);
// a node that does not answer within latestTimeout is named in
// "unreachable" and its rows are left out.

// LatestMetrics is the answer: VM ID or node ID → field → value.
type LatestMetrics struct {
	At          time.Time                     `json:"at"`
	VMs         map[string]map[string]float64 `json:"vms"`
	Nodes       map[string]map[string]float64 `json:"nodes"`
	Unreachable []string                      `json:"unreachable,omitempty"`
}

// latestFields are the figures a list shows; the history has the rest.
var latestFields = map[string]bool{"cpu_percent": true, "mem_used_bytes": true, "mem_max_bytes": true, "mem_total_bytes": true, "load1": true}

// latestTimeout bounds the wait for the slowest node.
const latestTimeout = 3 * time.Second

func (s *Server) latestMetrics(r *http.Request, _ httprouter.Params) (any, error) {
	if s.cfg.Metrics == nil {
		return nil, errorf(fsm.ErrState, "this node reads no metrics history")
	}
	pr := caller(r.Context())
	out := LatestMetrics{At: time.Now().UTC(), VMs: map[string]map[string]float64{}, Nodes: map[string]map[string]float64{}}
	readsNodes := pr.Allowed("", authz.Read("node"))
	ctx, cancel := context.WithTimeout(r.Context(), latestTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range s.state.Nodes() {
		if n.Status != fsm.NodeAlive {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples, err := s.cfg.Metrics.Latest(ctx, n.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Unreachable = append(out.Unreachable, n.Name)
				return
			}
			for key, fields := range samples {
				kind, id, _ := strings.Cut(key, "/") // "vm/<id>", "node/<id>" (sampler.VMKey, NodeKey)
				switch {
				case kind == "node" && readsNodes:
					out.Nodes[id] = pick(fields)
				case kind == "vm":
					if vm, err := s.state.VM(id); err == nil && vm.Node == n.ID && pr.Allowed(vm.Project, authz.Read("vm")) {
						out.VMs[id] = pick(fields) // a VM's samples are its current host's
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// pick keeps the fields a list shows.
func pick(fields map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(latestFields))
	for k, v := range fields {
		if latestFields[k] {
			out[k] = v
		}
	}
	return out
}
