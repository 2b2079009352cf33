package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// listFailovers lists failover records, newest first, optionally of ?node=
// (ID or name; a node that left still matches its recorded ID).
func (s *Server) listFailovers(r *http.Request, _ httprouter.Params) (any, error) {
	ref := r.URL.Query().Get("node")
	id := ref
	if ref != "" {
		if n, err := s.findNode(ref); err == nil {
			id = n.ID
		}
	}
	out := []client.Failover{}
	for _, fo := range s.state.Failovers() {
		if ref == "" || fo.Node == id || fo.NodeName == ref {
			out = append(out, toClientFailover(fo))
		}
	}
	return out, nil
}

// getFailover shows one failover record.
func (s *Server) getFailover(_ *http.Request, ps httprouter.Params) (any, error) {
	fo, err := s.state.Failover(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return toClientFailover(fo), nil
}

func toClientFailover(fo fsm.Failover) client.Failover {
	origin := fo.LastRenewal
	if origin.IsZero() {
		origin = fo.DetectedAt
	}
	ms := func(t time.Time) int64 { return t.Sub(origin).Milliseconds() }
	out := client.Failover{
		ID: fo.ID, Node: fo.Node, NodeName: fo.NodeName, Cause: fo.Cause, LastRenewal: optTime(fo.LastRenewal),
		DetectedAt: fo.DetectedAt, FencedAt: fo.FencedAt, RestartedAt: fo.RestartedAt, CompletedAt: optTime(fo.CompletedAt),
		DetectedAfterMs: ms(fo.DetectedAt), FencedAfterMs: ms(fo.FencedAt), RestartedAfterMs: ms(fo.RestartedAt),
		VMs: make([]client.FailoverVM, 0, len(fo.VMs)),
	}
	for _, v := range fo.VMs {
		cv := client.FailoverVM{VMID: v.VMID, VMName: v.VMName, Node: v.Node, NodeName: v.NodeName, Generation: v.Generation,
			Reason: v.Reason, RunningAt: optTime(v.RunningAt)}
		if !v.RunningAt.IsZero() {
			cv.RunningAfterMs = ms(v.RunningAt)
		}
		out.VMs = append(out.VMs, cv)
	}
	return out
}
