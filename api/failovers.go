package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/fsm"
)

// listFailovers lists failover records a page at a time, newest first, optionally of ?node=
// (ID or name; a node that left still matches its recorded ID).
func (s *Server) listFailovers(r *http.Request, _ httprouter.Params) (any, error) {
	ref := r.URL.Query().Get("node")
	id := ref
	if ref != "" {
		if n, err := s.findNode(ref); err == nil {
			id = n.ID
		}
	}
	all := s.state.Failovers()
	kept := all[:0]
	for _, fo := range all {
		if ref == "" || fo.Node == id || fo.NodeName == ref {
			kept = append(kept, fo)
		}
	}
	return paginate(s, r, kept, failoverOrder, toClientFailover)
}

// failoverOrder is the failover list's order: newest first, as fsm.Failovers sorts.
var failoverOrder = byTime(func(fo fsm.Failover) time.Time { return fo.RestartedAt }, func(fo fsm.Failover) string { return fo.ID }, true)

// getFailover shows one failover record.
func (s *Server) getFailover(_ *http.Request, ps httprouter.Params) (any, error) {
	fo, err := findRecord(s, "failover", ps.ByName("id"), s.state.Failover, nil, func(fo fsm.Failover) string { return fo.NodeName })
	if err != nil {
		return nil, err
	}
	return toClientFailover(fo), nil
}
