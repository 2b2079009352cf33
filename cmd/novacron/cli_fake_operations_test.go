package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/novacron/novacron/api/client"
)

// The fake API's operations are read from its records as the real API
// reads them (api/operations.go), and each read of one moves its record
// along as a read of the record itself used to: the next migration step,
// the next drain status, the host's work on a volume or a snapshot.

// routeOperations adds GET /api/v1/operations/{id} to mux. The fake
// answers at once: it never waits (?wait= is ignored).
func (f *fakeAPI) routeOperations(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/operations/{id}", f.handle(f.getOperation))
}

func (f *fakeAPI) getOperation(r *http.Request) (any, int, error) {
	if want := r.URL.Query().Get("index"); want != "" {
		if n, err := strconv.ParseUint(want, 10, 64); err != nil || n > f.index {
			return nil, 0, &apiErr{504, "index_timeout", "index not applied in time"}
		}
	}
	id := r.PathValue("id")
	op, ok := f.operation(id)
	if !ok {
		return nil, 0, notFound("operation", id)
	}
	return op, 200, nil
}

// operation finds operation id, moving its record along; false when there
// is none (any more).
func (f *fakeAPI) operation(id string) (client.Operation, bool) {
	if node, ok := strings.CutPrefix(id, "drain:"); ok {
		if len(f.ops.drainSteps) == 0 {
			return client.Operation{}, false
		}
		return fakeDrainOperation(node, f.nextDrain(), len(f.ops.drainSteps[0].VMs))
	}
	if vmID, name, ok := strings.Cut(id, ":"); ok {
		vm, err := f.findVM(vmID)
		if err != nil {
			return client.Operation{}, false
		}
		for i := range vm.Snapshots {
			if sn := &vm.Snapshots[i]; sn.Name == name {
				if f.advanceSnapshot(vm, sn) {
					return client.Operation{}, false
				}
				return fakeSnapshotOperation(id, sn)
			}
		}
		return client.Operation{}, false
	}
	if m, err := f.findMigration(id); err == nil {
		f.advanceMigration(m)
		return fakeMigrationOperation(m), true
	}
	if img, err := f.findImage(id); err == nil {
		f.advanceImage(img)
		return fakeImageOperation(img), true
	}
	if v, err := f.findVolume(id); err == nil {
		if f.advanceVolume(v) {
			return client.Operation{}, false
		}
		return fakeVolumeOperation(v)
	}
	if vm, err := f.findVM(id); err == nil {
		f.advanceVM(vm)
		return fakeCreateOperation(vm)
	}
	return client.Operation{}, false
}

func fakeMigrationOperation(m *client.Migration) client.Operation {
	op := client.Operation{ID: m.ID, Kind: "migration", State: client.OperationPending, Error: m.Error, MayCancel: !client.MigrationFinal(m.State)}
	switch m.State {
	case client.MigrationRunning:
		op.State = client.OperationRunning
		if m.Progress != nil {
			op.Progress = m.Progress.Percent
		}
	case client.MigrationCompleted:
		op.State, op.Progress = client.OperationSucceeded, 100
	case client.MigrationFailed:
		op.State = client.OperationFailed
	case client.MigrationCancelled:
		op.State = client.OperationCancelled
	}
	return op
}

func fakeImageOperation(img *client.Image) client.Operation {
	op := client.Operation{ID: img.ID, Kind: "image_import", State: client.OperationRunning, Error: img.Error}
	switch img.State {
	case imageReady:
		op.State, op.Progress = client.OperationSucceeded, 100
	case imageFailed:
		op.State = client.OperationFailed
	}
	return op
}

// fakeCreateOperation is a VM's creation until it runs (or fails): gone
// once its host would have reported it.
func fakeCreateOperation(vm *client.VM) (client.Operation, bool) {
	op := client.Operation{ID: vm.ID, Kind: "vm_create", State: client.OperationPending, Error: vm.PlacementReason}
	switch vm.State {
	case client.StatePending:
	case client.StateScheduled:
		op.State, op.Error = client.OperationRunning, ""
	default:
		return client.Operation{}, false
	}
	return op, true
}

func fakeVolumeOperation(v *client.Volume) (client.Operation, bool) {
	op := client.Operation{ID: v.ID, State: client.OperationRunning, Error: v.Error}
	switch {
	case v.Deleting:
		op.Kind = "volume_delete"
	case v.Attachment == client.VolumeAttaching:
		op.Kind = "volume_attach"
	case v.Attachment == client.VolumeDetaching:
		op.Kind = "volume_detach"
	case v.FileGiB > 0 && v.FileGiB < v.SizeGiB:
		op.Kind = "volume_resize"
	default:
		return client.Operation{}, false
	}
	if v.Error != "" {
		op.State = client.OperationFailed
	}
	return op, true
}

func fakeSnapshotOperation(id string, sn *client.VMSnapshot) (client.Operation, bool) {
	kind, ok := map[string]string{client.SnapshotCreating: "snapshot_create", client.SnapshotReverting: "snapshot_revert",
		client.SnapshotDeleting: "snapshot_delete"}[sn.State]
	return client.Operation{ID: id, Kind: kind, State: client.OperationRunning}, ok
}

// fakeDrainOperation is a drain status as its operation, started with
// first VMs on the node.
func fakeDrainOperation(node string, st client.DrainStatus, first int) (client.Operation, bool) {
	if !st.Maintenance {
		return client.Operation{}, false
	}
	op := client.Operation{ID: "drain:" + node, Kind: "drain", State: client.OperationRunning, MayCancel: true}
	if st.Done || len(st.VMs) == 0 {
		op.State, op.Progress = client.OperationSucceeded, 100
		return op, true
	}
	if first > 0 {
		op.Progress = 100 * float64(max(first-len(st.VMs), 0)) / float64(first)
	}
	if len(st.Unmovable) > 0 {
		parts := make([]string, len(st.Unmovable))
		for i, u := range st.Unmovable {
			parts[i] = u.VMName + ": " + u.Reason
		}
		op.Error = fmt.Sprintf("%d of %d VM(s) left cannot move (%s)", len(st.Unmovable), len(st.VMs), strings.Join(parts, "; "))
		if len(st.Unmovable) == len(st.VMs) {
			op.State = client.OperationFailed
		}
	}
	return op, true
}
