package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// maxMaintenanceReason bounds the reason an operator gives for a drain.
const maxMaintenanceReason = 256

// drainNode puts a node in maintenance (POST /api/v1/nodes/{id}/drain): it gets
// no new VMs, and the leader migrates its VMs away. The answer is 202 with the
// drain status, which names the drain's operation; GET on the same path, or
// on the operation, follows it.
func (s *Server) drainNode(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.DrainRequest
	if err := s.decodeOptionalBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxMaintenanceReason {
		return nil, invalidf("reason must be at most %d bytes, got %d", maxMaintenanceReason, len(req.Reason))
	}
	if err := fsm.ValidateText("reason", req.Reason); err != nil {
		return nil, err
	}
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if n.Maintenance {
		return nil, errorf(fsm.ErrState, "node %q is already in maintenance (since %s); follow the drain with GET /api/v1/operations/%s",
			n.Name, n.MaintenanceSince.UTC().Format(time.RFC3339), drainOperationID(n.ID))
	}
	n, idx, err := s.setMaintenance(r, n.ID, true, req.Reason)
	if err != nil {
		return nil, err
	}
	st, err := s.drainStatus(r, n)
	if err != nil {
		return nil, err
	}
	return accepted(st, idx), nil
}

// setMaintenance proposes the maintenance flag and returns the node as this
// server sees it once the change is applied here.
func (s *Server) setMaintenance(r *http.Request, id string, on bool, reason string) (fsm.Node, uint64, error) {
	idx, err := s.cluster.Apply(r.Context(), &fsm.SetMaintenance{ID: id, Maintenance: on, Reason: reason, At: time.Now().UTC()})
	if err != nil {
		return fsm.Node{}, 0, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return fsm.Node{}, 0, err
	}
	n, err := s.state.Node(id)
	return n, idx, err
}

// undrainNode takes a node out of maintenance and answers with the node.
func (s *Server) undrainNode(r *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if !n.Maintenance {
		return nil, errorf(fsm.ErrState, "node %q is not in maintenance", n.Name)
	}
	n, idx, err := s.setMaintenance(r, n.ID, false, "")
	if err != nil {
		return nil, err
	}
	return written(s.clientNode(n), idx), nil
}

// getDrain shows how far a node's drain has got. On a node that is not in
// maintenance it previews a drain: its VMs, and which no other node could take.
func (s *Server) getDrain(r *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.drainStatus(r, n)
}

// drainStatus lists the VMs left on n, each with its migration under way, and
// the VMs without one that the scheduler could place on no other node now,
// with the scheduler's reason (as the leader judges it).
func (s *Server) drainStatus(r *http.Request, n fsm.Node) (client.DrainStatus, error) {
	out := toClientDrainStatus(n)
	if n.Maintenance {
		out.Operation = drainOperationID(n.ID)
	}
	vms := s.state.VMsOnNode(n.ID)
	sort.Slice(vms, func(i, j int) bool { return vms[i].Spec.Name < vms[j].Spec.Name })
	for i := range vms {
		vm := &vms[i]
		var mig *fsm.Migration
		if vm.Migration != "" {
			if m, err := s.state.Migration(vm.Migration); err == nil {
				mig = &m
			}
		}
		out.VMs = append(out.VMs, toClientDrainVM(vm, mig))
	}
	out.Done = n.Maintenance && len(vms) == 0
	if out.Done {
		return out, nil
	}
	stuck, err := s.control.DrainPreview(r.Context(), n.ID)
	if err != nil {
		return client.DrainStatus{}, err
	}
	for _, m := range stuck {
		out.Unmovable = append(out.Unmovable, toClientUnmovable(m))
	}
	return out, nil
}

// failoverPlan answers "if this node died now, where would each of its VMs go,
// and which would not fit" (as the leader plans it).
func (s *Server) failoverPlan(r *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	plan, err := s.control.FailoverPlan(r.Context(), n.ID)
	if err != nil {
		return nil, err
	}
	return toClientFailoverPlan(plan), nil
}
