package fsm

import (
	"slices"
	"strings"
)

func (CreateVMSnapshot) Type() CommandType          { return CmdCreateVMSnapshot }
func (RevertVMSnapshot) Type() CommandType          { return CmdRevertVMSnapshot }
func (DeleteVMSnapshot) Type() CommandType          { return CmdDeleteVMSnapshot }
func (ReportVMSnapshot) Type() CommandType          { return CmdReportVMSnapshot }
func (c CreateVMSnapshot) target() (string, string) { return "vm", c.VM }
func (c RevertVMSnapshot) target() (string, string) { return "vm", c.VM }
func (c DeleteVMSnapshot) target() (string, string) { return "vm", c.VM }
func (c ReportVMSnapshot) target() (string, string) { return "vm", c.VM }

func init() {
	register(CmdCreateVMSnapshot, "CreateVMSnapshot", applyCreateVMSnapshot)
	register(CmdRevertVMSnapshot, "RevertVMSnapshot", applyRevertVMSnapshot)
	register(CmdDeleteVMSnapshot, "DeleteVMSnapshot", applyDeleteVMSnapshot)
	register(CmdReportVMSnapshot, "ReportVMSnapshot", applyReportVMSnapshot)
}

// snapshotVM finds a VM whose snapshots may change now: placed, not
// migrating, no snapshot action under way, its volumes settled.
func (s *state) snapshotVM(id string) (*VM, error) {
	vm, ok := s.vms[id]
	if !ok {
		return nil, errorf(ErrNotFound, "vm %q not found", id)
	}
	if err := CheckNotMigrating(vm); err != nil {
		return nil, err
	}
	if vm.Node == "" {
		return nil, errorf(ErrState, "vm %s is not placed on any host yet: it has no disks to snapshot", vm.Spec.Name)
	}
	for _, sn := range vm.Snapshots {
		if sn.State == SnapshotCreating || sn.State == SnapshotReverting || sn.State == SnapshotDeleting {
			return nil, errorf(ErrConflict, "snapshot %s of vm %s is %s; try again once that is done", sn.Name, vm.Spec.Name, sn.State)
		}
	}
	if err := s.checkVolumesSettled(vm); err != nil {
		return nil, err
	}
	return vm, nil
}

// snapshotIndex is the place of snapshot name in vm's list, or -1.
func snapshotIndex(vm *VM, name string) int {
	return slices.IndexFunc(vm.Snapshots, func(sn VMSnapshot) bool { return sn.Name == name })
}

func applyCreateVMSnapshot(s *state, c *CreateVMSnapshot, _ uint64) error {
	if err := ValidateName("snapshot name", c.Name); err != nil {
		return err
	}
	vm, err := s.snapshotVM(c.VM)
	if err != nil {
		return err
	}
	switch {
	case snapshotIndex(vm, c.Name) >= 0:
		return errorf(ErrConflict, "vm %s already has a snapshot named %s", vm.Spec.Name, c.Name)
	case len(vm.Snapshots) >= MaxVMSnapshots:
		return errorf(ErrConflict, "vm %s has %d snapshots, the most it may; delete one first", vm.Spec.Name, MaxVMSnapshots)
	case c.Memory && vm.State != VMRunning && vm.State != VMPaused:
		return errorf(ErrState, "vm %s is %s: only a running or paused guest has a memory state to snapshot", vm.Spec.Name, vm.State)
	}
	vm.Snapshots = append(slices.Clone(vm.Snapshots), VMSnapshot{Name: c.Name, Memory: c.Memory, State: SnapshotCreating, CreatedAt: c.At, UpdatedAt: c.At})
	return nil
}

func applyRevertVMSnapshot(s *state, c *RevertVMSnapshot, _ uint64) error {
	vm, err := s.snapshotVM(c.VM)
	if err != nil {
		return err
	}
	i := snapshotIndex(vm, c.Name)
	if i < 0 {
		return errorf(ErrNotFound, "vm %s has no snapshot %q", vm.Spec.Name, c.Name)
	}
	if vm.Snapshots[i].State != SnapshotReady {
		return errorf(ErrState, "snapshot %s of vm %s is %s, not ready", c.Name, vm.Spec.Name, vm.Snapshots[i].State)
	}
	vm.Snapshots = slices.Clone(vm.Snapshots)
	vm.Snapshots[i].State, vm.Snapshots[i].Error, vm.Snapshots[i].UpdatedAt = SnapshotReverting, "", c.At
	return nil
}

func applyDeleteVMSnapshot(s *state, c *DeleteVMSnapshot, _ uint64) error {
	vm, ok := s.vms[c.VM]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.VM)
	}
	i := snapshotIndex(vm, c.Name)
	if i < 0 {
		return errorf(ErrNotFound, "vm %s has no snapshot %q", vm.Spec.Name, c.Name)
	}
	if vm.Snapshots[i].State == SnapshotFailed {
		vm.Snapshots = slices.Delete(slices.Clone(vm.Snapshots), i, i+1)
		return nil // never made: nothing to remove on the host
	}
	if _, err := s.snapshotVM(c.VM); err != nil {
		return err
	}
	vm.Snapshots = slices.Clone(vm.Snapshots)
	vm.Snapshots[i].State, vm.Snapshots[i].Error, vm.Snapshots[i].UpdatedAt = SnapshotDeleting, "", c.At
	return nil
}

func applyReportVMSnapshot(s *state, c *ReportVMSnapshot, _ uint64) error {
	vm, ok := s.vms[c.VM]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.VM)
	}
	if vm.Node != c.Node {
		return errorf(ErrState, "vm %s is on node %q, not %q", vm.Spec.Name, vm.Node, c.Node)
	}
	i := snapshotIndex(vm, c.Name)
	if i < 0 {
		return errorf(ErrNotFound, "vm %s has no snapshot %q", vm.Spec.Name, c.Name)
	}
	if len(c.Error) > MaxErrorLen {
		c.Error = c.Error[:MaxErrorLen]
	}
	vm.Snapshots = slices.Clone(vm.Snapshots)
	sn := &vm.Snapshots[i]
	switch sn.State {
	case SnapshotCreating:
		sn.State = SnapshotReady
		if c.Error != "" {
			sn.State = SnapshotFailed
		}
	case SnapshotReverting:
		sn.State = SnapshotReady
	case SnapshotDeleting:
		if c.Error == "" {
			vm.Snapshots = slices.Delete(vm.Snapshots, i, i+1)
			return nil
		}
		sn.State = SnapshotReady
	default:
		return errorf(ErrState, "snapshot %s of vm %s is %s: nothing was under way", c.Name, vm.Spec.Name, sn.State)
	}
	sn.Error, sn.UpdatedAt = c.Error, c.At
	return nil
}

// checkNoSnapshots refuses what a VM's snapshots forbid: they live inside
// its volumes on its host, so the volumes stay there and stay the same.
func checkNoSnapshots(vm *VM, what string) error {
	if len(vm.Snapshots) == 0 {
		return nil
	}
	var names []string
	for _, sn := range vm.Snapshots[:min(len(vm.Snapshots), 3)] {
		names = append(names, sn.Name)
	}
	if len(vm.Snapshots) > 3 {
		names = append(names, "...")
	}
	return errorf(ErrState, "vm %s has snapshots (%s), kept inside its disks on its host: %s; delete its snapshots first", vm.Spec.Name, strings.Join(names, ", "), what)
}
