package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Operations (issue 15, the Incus model): every long action is followed as
// an operation, read from the record that already tracks it, so there is
// one truth: a migration (its record), an image import (the image while it
// imports and how it ended), a VM's creation until its host first reports
// it, a volume's attach, detach, growth or deletion until its host has done
// it, a VM snapshot's creation, revert or deletion until the VM's host has
// done it, a node's drain while the node is in maintenance. An operation's
// ID is its record's ID (a snapshot's, which has none, is its VM's ID and
// its name: snapshots.go; a drain's is "drain:" and its node's ID:
// drain_op.go).

// maxOperationWait bounds ?wait=.
const maxOperationWait = 60 * time.Second

// operationPerm is what reading an operation of a kind needs, in its project.
var operationPerm = map[string]authz.Perm{
	"migration": authz.Read("migration"), "image_import": authz.Read("image"), "vm_create": authz.Read("vm"),
	"volume_attach": authz.Read("volume"), "volume_detach": authz.Read("volume"), "volume_resize": authz.Read("volume"),
	"volume_delete": authz.Read("volume"),
	// A VM's snapshots are part of the VM.
	"snapshot_create": authz.Read("vm"), "snapshot_revert": authz.Read("vm"), "snapshot_delete": authz.Read("vm"),
	// A drain is the cluster's (its project is ""), as its node is.
	"drain": authz.Read("node"),
}

// operationCancelPerm is what cancelling an operation of a kind needs, in
// its project: a migration's cancel stops it, an image import's stops the
// import (the image stays, cancelled, until deleted), a drain's ends the
// maintenance (an undrain).
var operationCancelPerm = map[string]authz.Perm{"migration": authz.Write("migration"), "image_import": authz.Write("image"),
	"drain": authz.Write("node")}

// operations builds every operation this node's state holds; the drains
// only for a caller who may read them (each may ask the leader).
func (s *Server) operations(ctx context.Context, pr *authz.Principal) []client.Operation {
	var out []client.Operation
	if pr.Allowed("", operationPerm["drain"]) {
		out = append(out, s.drainOperations(ctx)...)
	}
	for _, m := range s.state.Migrations() {
		out = append(out, s.migrationOperation(m))
	}
	for _, img := range s.state.Images() {
		out = append(out, imageOperation(img))
	}
	for _, vm := range s.state.VMs() {
		if op, ok := createOperation(vm); ok {
			out = append(out, op)
		}
		out = append(out, snapshotOperations(vm)...)
	}
	for _, v := range s.state.Volumes() {
		if op, ok := volumeOperation(v); ok {
			out = append(out, op)
		}
	}
	return out
}

// operation finds one operation by its record's ID. A drain's may fail
// when the leader cannot be asked which of its VMs cannot move.
func (s *Server) operation(ctx context.Context, id string) (client.Operation, error) {
	if op, ok, err := s.drainOperationByID(ctx, id); ok {
		return op, err
	}
	if m, err := s.state.Migration(id); err == nil {
		return s.migrationOperation(m), nil
	}
	if img, err := s.state.Image(id); err == nil {
		return imageOperation(img), nil
	}
	if vm, err := s.state.VM(id); err == nil {
		if op, ok := createOperation(vm); ok {
			return op, nil
		}
	}
	if v, err := s.state.Volume(id); err == nil {
		if op, ok := volumeOperation(v); ok {
			return op, nil
		}
	}
	if op, ok := s.snapshotOperationByID(id); ok {
		return op, nil
	}
	return client.Operation{}, errorf(fsm.ErrNotFound, "operation %q not found", id)
}

func (s *Server) migrationOperation(m fsm.Migration) client.Operation {
	op := client.Operation{ID: m.ID, Kind: "migration", Project: s.migrationProjectOf(m),
		Object: client.OperationObject{Type: "vm", ID: m.VMID, Name: m.VMName}, Error: m.Error,
		MayCancel: !m.State.Final(), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Links: map[string]string{"migration": "/api/v1/migrations/" + m.ID, "vm": "/api/v1/vms/" + m.VMID}}
	switch m.State {
	case fsm.MigrationPending, fsm.MigrationPreparing:
		op.State = client.OperationPending
	case fsm.MigrationRunning:
		op.State = client.OperationRunning
	case fsm.MigrationCompleted:
		op.State, op.Progress = client.OperationSucceeded, 100
	case fsm.MigrationFailed:
		op.State = client.OperationFailed
	default:
		op.State = client.OperationCancelled
	}
	if m.Progress != nil && op.State == client.OperationRunning {
		op.Progress = m.Progress.Percent
	}
	return op
}

func imageOperation(img fsm.Image) client.Operation {
	op := client.Operation{ID: img.ID, Kind: "image_import", Project: img.Project,
		Object: client.OperationObject{Type: "image", ID: img.ID, Name: img.Name}, Error: img.Error,
		CreatedAt: img.CreatedAt, UpdatedAt: img.UpdatedAt, Links: map[string]string{"image": "/api/v1/images/" + img.ID}}
	switch img.State {
	case fsm.ImageReady:
		op.State, op.Progress = client.OperationSucceeded, 100
	case fsm.ImageFailed:
		op.State = client.OperationFailed
	case fsm.ImageCancelled:
		op.State = client.OperationCancelled
	default:
		op.State, op.MayCancel = client.OperationRunning, true
	}
	return op
}

// createOperation follows a VM from its creation until its host first
// reports it: pending while no host has it, running once placed.
func createOperation(vm fsm.VM) (client.Operation, bool) {
	if !vm.ReportedAt.IsZero() || vm.DesiredState != fsm.VMRunning {
		return client.Operation{}, false
	}
	op := client.Operation{ID: vm.ID, Kind: "vm_create", Project: vm.Project, State: client.OperationPending,
		Object: client.OperationObject{Type: "vm", ID: vm.ID, Name: vm.Spec.Name}, Error: vm.Placement,
		CreatedAt: vm.CreatedAt, UpdatedAt: vm.UpdatedAt, Links: map[string]string{"vm": "/api/v1/vms/" + vm.ID}}
	if vm.Node != "" {
		op.State, op.Error = client.OperationRunning, ""
	}
	return op, true
}

// volumeOperation follows what a volume's host has still to do: delete
// it, hot-plug or unplug it, or grow its file (one at a time, in that
// order: an attach and a growth may both wait on a host, and the volume's
// ID names one operation). It is pending while no host holds the volume,
// running while its host acts, failed once the host reported an error.
// Its times are the volume's last change: when the action was asked, or
// when the host last reported on it.
func volumeOperation(v fsm.Volume) (client.Operation, bool) {
	var kind string
	switch {
	case v.Deleting:
		kind = "volume_delete"
	case v.Attachment == fsm.Attaching:
		kind = "volume_attach"
	case v.Attachment == fsm.Detaching:
		kind = "volume_detach"
	case v.FileGiB > 0 && v.FileGiB < v.SizeGiB:
		kind = "volume_resize"
	default:
		return client.Operation{}, false
	}
	op := client.Operation{ID: v.ID, Kind: kind, Project: v.Project, State: client.OperationRunning,
		Object: client.OperationObject{Type: "volume", ID: v.ID, Name: v.Name}, Error: v.Error,
		CreatedAt: v.UpdatedAt, UpdatedAt: v.UpdatedAt, Links: map[string]string{"volume": "/api/v1/volumes/" + v.ID}}
	if v.VM != "" {
		op.Links["vm"] = "/api/v1/vms/" + v.VM
	}
	switch {
	case v.Error != "":
		op.State = client.OperationFailed
	case v.Host == "":
		op.State = client.OperationPending
	}
	return op, true
}

// readableOperation refuses, as not found, an operation pr may not read.
func readableOperation(pr *authz.Principal, op client.Operation) bool {
	return pr.Allowed(op.Project, operationPerm[op.Kind])
}

// listOperations lists the operations the caller may read, newest first.
func (s *Server) listOperations(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	ops := slices.DeleteFunc(s.operations(r.Context(), pr), func(op client.Operation) bool { return !readableOperation(pr, op) })
	return paginate(s, r, ops, byTime(func(op client.Operation) time.Time { return op.CreatedAt }, func(op client.Operation) string { return op.ID }, true),
		func(op client.Operation) client.Operation { return op })
}

// getOperation shows one operation; with ?wait=DURATION it answers once the
// operation has ended or the wait (at most a minute) has passed.
func (s *Server) getOperation(r *http.Request, ps httprouter.Params) (any, error) {
	var wait time.Duration
	if q := r.URL.Query().Get("wait"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 || d > maxOperationWait {
			return nil, invalidf("query parameter wait: %q is not a duration of at most %s", q, maxOperationWait)
		}
		// Within the request's own timeout: an answer, never a 504.
		wait = min(d, s.cfg.RequestTimeout-time.Second)
	}
	pr := caller(r.Context())
	deadline := time.Now().Add(wait)
	for {
		op, err := s.readOperation(r.Context(), pr, ps.ByName("id"))
		if err != nil || client.OperationFinal(op.State) || !time.Now().Before(deadline) {
			return op, err
		}
		select {
		case <-r.Context().Done():
			return op, nil
		case <-time.After(min(250*time.Millisecond, time.Until(deadline))):
		}
	}
}

// readOperation finds operation id for pr: one it may not read is not
// found.
func (s *Server) readOperation(ctx context.Context, pr *authz.Principal, id string) (client.Operation, error) {
	// A drain's needs no leader's judgement for a caller who may not see it.
	if strings.HasPrefix(id, drainOpPrefix) && !pr.Allowed("", operationPerm["drain"]) {
		return client.Operation{}, errorf(fsm.ErrNotFound, "operation %q not found", id)
	}
	op, err := s.operation(ctx, id)
	if err == nil && !readableOperation(pr, op) {
		err = errorf(fsm.ErrNotFound, "operation %q not found", id)
	}
	return op, err
}

// cancelOperation cancels an operation that may be cancelled: a
// migration (202: its source aborts the copy), an image import (202: its
// importer stops and removes its partial file), or a drain (200: the
// maintenance ends at once).
func (s *Server) cancelOperation(r *http.Request, ps httprouter.Params) (any, error) {
	pr := caller(r.Context())
	op, err := s.readOperation(r.Context(), pr, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if !op.MayCancel {
		return nil, errorf(fsm.ErrState, "operation %s (%s of %s %s) cannot be cancelled", op.ID, op.Kind, op.Object.Type, op.Object.Name)
	}
	if perm := operationCancelPerm[op.Kind]; !pr.Allowed(op.Project, perm) {
		return nil, forbidden(pr, op.Project, perm)
	}
	if op.Kind == "drain" {
		return s.cancelDrain(r, op)
	}
	var cmd fsm.Command = &fsm.CancelMigration{ID: op.ID, At: time.Now().UTC()}
	if op.Kind == "image_import" {
		cmd = &fsm.CancelImageImport{ID: op.ID, At: time.Now().UTC()}
	}
	idx, err := s.cluster.Apply(r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	if op, err = s.operation(r.Context(), op.ID); err != nil {
		return nil, err
	}
	return accepted(op, idx), nil
}
