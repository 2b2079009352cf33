package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// maxMaintenanceReason bounds the reason an operator gives for a drain.
const maxMaintenanceReason = 256

// drainNode puts a node in maintenance (POST /api/v1/nodes/{id}/drain): it gets
// no new VMs, and the leader migrates its VMs away. The answer is 202 with the
// drain status; GET on the same path follows it.
func (s *Server) drainNode(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.DrainRequest
	if err := s.decodeOptionalBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxMaintenanceReason {
		return nil, invalidf("reason must be at most %d bytes, got %d", maxMaintenanceReason, len(req.Reason))
	}
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if n.Maintenance {
		return nil, errorf(fsm.ErrState, "node %q is already in maintenance (since %s); follow the drain with GET /api/v1/nodes/%s/drain",
			n.Name, n.MaintenanceSince.UTC().Format(time.RFC3339), n.Name)
	}
	n, idx, err := s.setMaintenance(r, n.ID, true, req.Reason)
	if err != nil {
		return nil, err
	}
	return accepted(s.drainStatus(n), idx), nil
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
func (s *Server) getDrain(_ *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.drainStatus(n), nil
}

// drainStatus lists the VMs left on n, each with its migration under way, and
// the VMs without one that the scheduler could place on no other node now,
// with the scheduler's reason.
func (s *Server) drainStatus(n fsm.Node) client.DrainStatus {
	out := client.DrainStatus{
		NodeID: n.ID, NodeName: n.Name, Maintenance: n.Maintenance, MaintenanceReason: n.MaintenanceReason,
		MaintenanceSince: optTime(n.MaintenanceSince), VMs: []client.DrainVM{}, Unmovable: []client.UnmovableVM{},
	}
	vms := s.state.VMsOnNode(n.ID)
	sort.Slice(vms, func(i, j int) bool { return vms[i].Spec.Name < vms[j].Spec.Name })
	var sched *scheduler.Cluster // built once, only if some VM needs it
	now := time.Now().UTC()
	for i := range vms {
		vm := &vms[i]
		dv := client.DrainVM{ID: vm.ID, Name: vm.Spec.Name, State: string(vm.State)}
		if vm.Migration != "" {
			if m, err := s.state.Migration(vm.Migration); err == nil {
				dv.Migration = &client.DrainMigration{ID: m.ID, State: string(m.State)}
				if m.Progress != nil {
					dv.Migration.Percent = m.Progress.Percent
				}
			}
		}
		out.VMs = append(out.VMs, dv)
		if dv.Migration != nil {
			continue
		}
		if sched == nil {
			sched = scheduler.FromState(s.state)
		}
		if d := sched.Place(vm, scheduler.Options{Exclude: map[string]bool{n.ID: true}, At: now}); !d.OK() {
			out.Unmovable = append(out.Unmovable, client.UnmovableVM{VMID: vm.ID, VMName: vm.Spec.Name, Reason: d.Reason})
		}
	}
	out.Done = n.Maintenance && len(vms) == 0
	return out
}

// failoverPlan answers "if this node died now, where would each of its VMs go,
// and which would not fit".
func (s *Server) failoverPlan(_ *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	plan, err := scheduler.FromState(s.state).FailoverPlan(n.ID, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	return toClientFailoverPlan(plan), nil
}
