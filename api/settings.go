package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/fsm"
)

// recentMoves bounds the automatic moves GET /api/v1/rebalance lists.
const recentMoves = 20

// getSettings shows the cluster settings, every field with its value in force.
func (s *Server) getSettings(_ *http.Request, _ httprouter.Params) (any, error) {
	return toClientSettings(s.state.Settings()), nil
}

// putSettings changes the settings the body names and keeps the others: the
// body is decoded onto the settings in force, so a field left out keeps its
// value. Unknown fields and values out of range are refused, naming the field.
func (s *Server) putSettings(r *http.Request, _ httprouter.Params) (any, error) {
	merged := toClientSettings(s.state.Settings())
	if err := s.decodeBody(r, &merged); err != nil {
		return nil, err
	}
	set := toFSMSettings(merged)
	// No defaults are filled in first: a zero the caller sent is refused, not
	// quietly read as "the default".
	if err := set.Validate(); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.SetSettings{Settings: set, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientSettings(s.state.Settings()), idx), nil
}

// getRebalance shows the leader's last rebalancing round (asked of the leader)
// and the automatic moves made recently (from this node's state).
func (s *Server) getRebalance(r *http.Request, _ httprouter.Params) (any, error) {
	st, err := s.control.Rebalance(r.Context())
	if err != nil {
		return nil, err
	}
	out := toClientRebalanceStatus(st)
	set := s.state.Settings()
	if out.Mode == "" {
		out.Mode = set.Rebalance.Mode
	}
	if out.Threshold == 0 {
		out.Threshold = set.Rebalance.Threshold
	}
	if out.LeaderID == "" { // no round yet: name the leader as this node knows it
		cs := s.cluster.Status()
		out.Leader, out.LeaderID = cs.LeaderName, cs.LeaderID
	}
	names := s.nodeNames()
	for _, m := range s.state.Migrations() {
		if len(out.RecentMoves) == recentMoves {
			break
		}
		if m.Rebalance != nil {
			out.RecentMoves = append(out.RecentMoves, toClientMigration(m, names))
		}
	}
	return out, nil
}
