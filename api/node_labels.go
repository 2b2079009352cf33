package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// setNodeLabels sets and removes an operator's labels on a node
// (POST /api/v1/nodes/{id}/labels {"set":{"k":"v"},"unset":["k"]}) and
// answers the node. Placement matches the labels from the next decision on;
// VMs already placed stay where they are.
func (s *Server) setNodeLabels(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.NodeLabelsRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Set) == 0 && len(req.Unset) == 0 {
		return nil, invalidf(`give labels to set ("set": {"key": "value"}) or to remove ("unset": ["key"])`)
	}
	if len(req.Unset) > fsm.MaxLabels {
		return nil, invalidf("unset has %d keys, at most %d are allowed", len(req.Unset), fsm.MaxLabels)
	}
	if err := fsm.ValidateLabels("set", req.Set); err != nil {
		return nil, err
	}
	if err := fsm.ValidateLabelsText("set", req.Set); err != nil {
		return nil, err
	}
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.SetNodeLabels{ID: n.ID, Set: req.Set, Unset: req.Unset})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	if n, err = s.state.Node(n.ID); err != nil {
		return nil, err
	}
	return written(s.clientNode(n), idx), nil
}
