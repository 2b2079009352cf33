package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// VM snapshots (issue 15): named snapshots of a VM's disks (and of its
// memory, for a running guest), kept inside its volumes on its host. The
// API records what a user asks; the VM's host takes, reverts to or deletes
// the snapshot and reports it, so each of these answers 202 with the
// snapshot as recorded: creating, reverting or deleting until then
// (operations.go follows each). One snapshot action at a time per VM.

// snapshotsAction is POST /api/v1/vms/:id/snapshots, which httprouter
// routes to /vms/:id/:action (see vmAction); a revert,
// POST /vms/:id/snapshots/:name/revert, is routed beside it as
// /vms/:id/:action/:name/revert (see revertVMSnapshot).
const snapshotsAction = "snapshots"

// listVMSnapshots lists a VM's snapshots, oldest first (at most
// fsm.MaxVMSnapshots, in one answer).
func (s *Server) listVMSnapshots(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	out := make([]client.VMSnapshot, 0, len(vm.Snapshots))
	for _, sn := range vm.Snapshots {
		out = append(out, toClientSnapshot(sn))
	}
	return out, nil
}

// getVMSnapshot shows one snapshot of a VM, by name.
func (s *Server) getVMSnapshot(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	sn, err := vmSnapshot(vm, ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	return toClientSnapshot(sn), nil
}

// createVMSnapshot asks the VM's host for a new snapshot: 202 with it
// creating until the host reports it ready (or failed).
func (s *Server) createVMSnapshot(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.SnapshotRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if _, err := vmSnapshot(vm, req.Name); err == nil {
		return nil, errorf(fsm.ErrConflict, "vm %s already has a snapshot named %s", vm.Spec.Name, req.Name)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateVMSnapshot{VM: vm.ID, Name: req.Name, Memory: req.Memory, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	return s.snapshotAfter(r, idx, vm.ID, req.Name)
}

// revertVMSnapshot asks the VM's host to return the VM to a snapshot: 202
// with it reverting until the host reports it done (ready again, with an
// error if it failed). It serves POST /vms/:id/:action/:name/revert, the
// only shape httprouter holds beside /vms/:id/:action: the action must be
// snapshots.
func (s *Server) revertVMSnapshot(r *http.Request, ps httprouter.Params) (any, error) {
	if ps.ByName("action") != snapshotsAction {
		return nil, errRouteNotFound
	}
	nameRoute(r, "/api/v1/vms/:id/snapshots/:name/revert")
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	sn, err := vmSnapshot(vm, ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.RevertVMSnapshot{VM: vm.ID, Name: sn.Name, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	return s.snapshotAfter(r, idx, vm.ID, sn.Name)
}

// deleteVMSnapshot deletes a snapshot: 202 with it deleting while the VM's
// host removes it; 200 with the snapshot as it was when it had failed (it
// was never made, and its record went at once), as a volume's delete
// answers.
func (s *Server) deleteVMSnapshot(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	sn, err := vmSnapshot(vm, ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteVMSnapshot{VM: vm.ID, Name: sn.Name, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	got, err := s.readVMAfter(r, idx, vm.ID)
	if err != nil {
		return nil, err
	}
	if now, err := vmSnapshot(got, sn.Name); err == nil {
		return accepted(toClientSnapshot(now), idx), nil
	}
	return written(toClientSnapshot(sn), idx), nil
}

// snapshotAfter answers 202 with snapshot name of VM id as this node has
// it once it applied index.
func (s *Server) snapshotAfter(r *http.Request, index uint64, id, name string) (any, error) {
	vm, err := s.readVMAfter(r, index, id)
	if err != nil {
		return nil, err
	}
	sn, err := vmSnapshot(vm, name)
	if err != nil {
		return nil, err
	}
	return accepted(toClientSnapshot(sn), index), nil
}

// vmSnapshot finds a VM's snapshot by name.
func vmSnapshot(vm fsm.VM, name string) (fsm.VMSnapshot, error) {
	i := slices.IndexFunc(vm.Snapshots, func(sn fsm.VMSnapshot) bool { return sn.Name == name })
	if i < 0 {
		return fsm.VMSnapshot{}, errorf(fsm.ErrNotFound, "vm %s has no snapshot %q", vm.Spec.Name, name)
	}
	return vm.Snapshots[i], nil
}

// snapshotOpSep joins a VM's ID and a snapshot's name into the ID of the
// snapshot's operation: a snapshot has no ID of its own, and neither IDs
// nor names hold a colon.
const snapshotOpSep = ":"

// snapshotOperationKinds maps the states of a snapshot action under way
// to the kinds of its operation.
var snapshotOperationKinds = map[fsm.SnapshotState]string{
	fsm.SnapshotCreating: "snapshot_create", fsm.SnapshotReverting: "snapshot_revert", fsm.SnapshotDeleting: "snapshot_delete",
}

// snapshotOperations are the operations of a VM's snapshot actions under
// way (one at most: the FSM takes one at a time).
func snapshotOperations(vm fsm.VM) []client.Operation {
	var out []client.Operation
	for _, sn := range vm.Snapshots {
		if op, ok := snapshotOperation(vm, sn); ok {
			out = append(out, op)
		}
	}
	return out
}

// snapshotOperation follows what a VM's host has still to do with a
// snapshot: take it, revert to it, or delete it. It is running from the
// request until the host reports (the VM has a host: the FSM takes no
// snapshot action on a VM that has none), then no longer listed: the
// snapshot's record says the outcome (ready, failed, or gone). Its ID is
// the VM's ID and the snapshot's name, joined by a colon; its times are
// the snapshot's last change, when the action was asked.
func snapshotOperation(vm fsm.VM, sn fsm.VMSnapshot) (client.Operation, bool) {
	kind, ok := snapshotOperationKinds[sn.State]
	if !ok {
		return client.Operation{}, false
	}
	id := vm.ID + snapshotOpSep + sn.Name
	op := client.Operation{ID: id, Kind: kind, Project: vm.Project, State: client.OperationRunning,
		Object:    client.OperationObject{Type: "snapshot", ID: id, Name: vm.Spec.Name + "/" + sn.Name},
		CreatedAt: sn.UpdatedAt, UpdatedAt: sn.UpdatedAt,
		Links: map[string]string{"vm": "/api/v1/vms/" + vm.ID, "snapshot": "/api/v1/vms/" + vm.ID + "/snapshots/" + sn.Name}}
	if vm.Node == "" {
		op.State = client.OperationPending
	}
	return op, true
}

// snapshotOperationByID finds the operation id names, when it is a
// snapshot's.
func (s *Server) snapshotOperationByID(id string) (client.Operation, bool) {
	vmID, name, ok := strings.Cut(id, snapshotOpSep)
	if !ok {
		return client.Operation{}, false
	}
	vm, err := s.state.VM(vmID)
	if err != nil {
		return client.Operation{}, false
	}
	sn, err := vmSnapshot(vm, name)
	if err != nil {
		return client.Operation{}, false
	}
	return snapshotOperation(vm, sn)
}
