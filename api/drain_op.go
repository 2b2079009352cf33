package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// A drain is an operation (issue 15) for as long as its node is in
// maintenance: kind "drain", object the node, created when the maintenance
// began. It has no record of its own: it is read from the node, the VMs
// still on it, the migrations that moved VMs off it since, and the
// leader's judgement of those that cannot move (drainStatus). Its ID is
// "drain:" and the node's ID: record IDs hold no colon, and a snapshot's
// operation ID starts with its VM's ID, never "drain".

// drainOpPrefix starts the ID of every drain operation.
const drainOpPrefix = "drain:"

// drainOperationID is the ID of the operation of nodeID's drain.
func drainOperationID(nodeID string) string { return drainOpPrefix + nodeID }

// drainOperationByID finds the drain id names ("drain:" and a node's ID,
// name or unique start of its ID, as the CLI's tables show it), when its
// node is in maintenance. An ambiguous start of an ID is an error.
func (s *Server) drainOperationByID(ctx context.Context, id string) (client.Operation, bool, error) {
	ref, ok := strings.CutPrefix(id, drainOpPrefix)
	if !ok {
		return client.Operation{}, false, nil
	}
	n, err := s.findNode(ref)
	switch {
	case errors.Is(err, fsm.ErrNotFound):
		return client.Operation{}, false, nil
	case err != nil:
		return client.Operation{}, true, err
	case !n.Maintenance:
		return client.Operation{}, false, nil
	}
	op, err := s.drainOperation(ctx, n)
	return op, true, err
}

// drainOperation is the drain of n, a node in maintenance: succeeded once
// no VM is left on it; failed when every VM left is one no other node can
// take now (the error names them, with the scheduler's reasons: the drain
// goes on, and succeeds if room appears or they are moved by hand);
// pending while the node is not alive (the leader moves nothing off it);
// running otherwise, its error naming any VM that cannot move yet. Its
// progress is the share of VMs moved away: those migrated off the node
// since the maintenance began, over those and the VMs still on it. When
// the leader cannot be asked which VMs cannot move, it returns the
// operation as far as this node knows it (running) and the error.
func (s *Server) drainOperation(ctx context.Context, n fsm.Node) (client.Operation, error) {
	op := client.Operation{ID: drainOperationID(n.ID), Kind: "drain", State: client.OperationRunning,
		Object: client.OperationObject{Type: "node", ID: n.ID, Name: n.Name}, MayCancel: true,
		CreatedAt: n.MaintenanceSince, UpdatedAt: n.MaintenanceSince,
		Links: map[string]string{"node": "/api/v1/nodes/" + n.ID, "drain": "/api/v1/nodes/" + n.ID + "/drain"}}
	vms := s.state.VMsOnNode(n.ID)
	left := make(map[string]bool, len(vms))
	migrating := 0
	for _, vm := range vms {
		left[vm.ID] = true
		if vm.Migration != "" {
			migrating++
		}
	}
	moved := map[string]bool{}
	for _, m := range s.state.Migrations() {
		if m.Source != n.ID || m.CreatedAt.Before(n.MaintenanceSince) {
			continue
		}
		if m.UpdatedAt.After(op.UpdatedAt) {
			op.UpdatedAt = m.UpdatedAt
		}
		if m.State == fsm.MigrationCompleted && !left[m.VMID] {
			moved[m.VMID] = true
		}
	}
	if len(vms) == 0 {
		op.State, op.Progress = client.OperationSucceeded, 100
		return op, nil
	}
	op.Progress = 100 * float64(len(moved)) / float64(len(moved)+len(vms))
	if n.Status != fsm.NodeAlive {
		op.State = client.OperationPending
		op.Error = fmt.Sprintf("node %s is %s: no VM moves off it until it is alive again", n.Name, n.Status)
		return op, nil
	}
	if migrating == len(vms) {
		return op, nil // every VM left is on its way: none to judge
	}
	stuck, err := s.control.DrainPreview(ctx, n.ID)
	if err != nil {
		return op, err
	}
	if len(stuck) == 0 {
		return op, nil
	}
	parts := make([]string, len(stuck))
	for i, m := range stuck {
		parts[i] = m.VMName + ": " + m.Decision.Reason
	}
	op.Error = fmt.Sprintf("%d of %d VM(s) left cannot move (%s)", len(stuck), len(vms), strings.Join(parts, "; "))
	if len(stuck) == len(vms) {
		op.State = client.OperationFailed
	}
	return op, nil
}

// drainOperations are the drains of the nodes in maintenance. A drain the
// leader cannot judge now is listed as far as this node knows it.
func (s *Server) drainOperations(ctx context.Context) []client.Operation {
	var out []client.Operation
	for _, n := range s.state.Nodes() {
		if n.Maintenance {
			op, _ := s.drainOperation(ctx, n)
			out = append(out, op)
		}
	}
	return out
}

// cancelDrain ends the maintenance of the node whose drain op is, as
// POST /api/v1/nodes/{id}/undrain does, and answers 200 with the drain as
// it ended: cancelled, or succeeded when the node was already empty. The
// migrations under way go on (each may be cancelled on its own).
func (s *Server) cancelDrain(r *http.Request, op client.Operation) (any, error) {
	_, idx, err := s.setMaintenance(r, op.Object.ID, false, "")
	if err != nil {
		return nil, err
	}
	if op.State != client.OperationSucceeded {
		op.State = client.OperationCancelled
	}
	op.MayCancel, op.UpdatedAt = false, time.Now().UTC()
	return written(op, idx), nil
}
