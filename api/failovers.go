package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
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
