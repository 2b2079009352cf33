package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Removals are deleted VMs whose hosts have not yet confirmed their domains
// gone (fsm.Removal); `vm delete --wait` polls its VM's.

// listRemovals lists the removals under way a page at a time, oldest first,
// optionally of ?node= (ID or name).
func (s *Server) listRemovals(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	readable, err := readableIn(pr, authz.Read("vm"))
	if err != nil {
		return nil, err
	}
	all := slices.DeleteFunc(s.state.Removals(), func(rm fsm.Removal) bool { return !readable(rm.Project) })
	if ref := r.URL.Query().Get("node"); ref != "" {
		n, err := s.findNode(ref)
		if err != nil {
			return nil, err
		}
		kept := all[:0]
		for _, rm := range all {
			if rm.Node == n.ID {
				kept = append(kept, rm)
			}
		}
		all = kept
	}
	return paginate(s, r, all, removalOrder, s.toClientRemoval)
}

// removalOrder is the list's order: oldest delete first, as fsm.Removals sorts.
var removalOrder = byTime(func(r fsm.Removal) time.Time { return r.DeletedAt }, func(r fsm.Removal) string { return r.VMID }, false)

// getRemoval shows the removal of one deleted VM, named by its whole ID (its
// name may already belong to a new VM); 404 once its host has removed it.
func (s *Server) getRemoval(_ *http.Request, ps httprouter.Params) (any, error) {
	id := ps.ByName("id")
	rm, ok := s.state.Removal(id)
	if !ok {
		return nil, errorf(fsm.ErrNotFound, "no removal under way for vm %q: its host has removed its domain, or it had none", id)
	}
	return s.toClientRemoval(rm), nil
}

func (s *Server) toClientRemoval(r fsm.Removal) client.Removal {
	out := client.Removal{VMID: r.VMID, Name: r.Name, Node: r.Node, DeletedAt: r.DeletedAt, Index: r.Index}
	if n, err := s.state.Node(r.Node); err == nil {
		out.NodeName, out.NodeStatus = n.Name, string(n.Status)
	}
	return out
}
