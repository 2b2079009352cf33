package fsm

import (
	"cmp"
	"slices"
)

func applyAttachVolume(s *state, c *AttachVolume, _ uint64) error {
	v, err := s.liveVolume(c.ID)
	if err != nil {
		return err
	}
	vm, ok := s.vms[c.VM]
	if !ok || vm.Project != v.Project {
		return errorf(ErrNotFound, "vm %q not found in project %s", c.VM, v.Project)
	}
	switch {
	case v.VM == vm.ID:
		return errorf(ErrConflict, "volume %s is already attached to vm %s (as %s)", v.Name, vm.Spec.Name, v.Target)
	case v.VM != "":
		return errorf(ErrState, "volume %s is attached to vm %s; detach it first", v.Name, s.vmName(v.VM))
	case v.Pool != vm.Spec.EffectivePool():
		return errorf(ErrInvalid, "volume %s is in pool %s, vm %s's disks are in pool %s: a volume attaches to vms of its own pool", v.Name, v.Pool, vm.Spec.Name, vm.Spec.EffectivePool())
	}
	if err := CheckNotMigrating(vm); err != nil {
		return err
	}
	if err := checkNoSnapshots(vm, "a volume attached now would be missing from them"); err != nil {
		return err
	}
	if p, _ := s.pool(v.Pool); !p.Shared() && v.Host != "" && v.Host != vm.Node {
		where := "is not placed on any host yet"
		if vm.Node != "" {
			where = "runs on " + s.nodeName(vm.Node)
		}
		return errorf(ErrState, "volume %s is on host %s's own disk (dir pool %s) and vm %s %s: attach it to a vm on %s", v.Name, s.nodeName(v.Host), v.Pool, vm.Spec.Name, where, s.nodeName(v.Host))
	}
	target := s.freeTarget(vm.ID)
	if target == "" {
		return errorf(ErrConflict, "vm %s has %d volumes attached, the most it may", vm.Spec.Name, MaxVMVolumes)
	}
	v.VM, v.Target, v.Host, v.Error, v.UpdatedAt = vm.ID, target, "", "", c.At
	v.Attachment = Attached
	if domainMayRun(vm) {
		v.Attachment = Attaching // its host hot-plugs it, then reports
	}
	s.vmVolumes[vm.ID] = append(s.vmVolumes[vm.ID], v.ID)
	s.setLocalDisks(vm)
	return nil
}

func applyDetachVolume(s *state, c *DetachVolume, _ uint64) error {
	v, err := s.liveVolume(c.ID)
	if err != nil {
		return err
	}
	vm, ok := s.vms[v.VM]
	if !ok || v.VM != c.VM {
		return errorf(ErrState, "volume %s is not attached to vm %s", v.Name, s.vmName(c.VM))
	}
	if err := CheckNotMigrating(vm); err != nil {
		return err
	}
	if err := checkNoSnapshots(vm, "they hold this volume"); err != nil {
		return err
	}
	switch v.Attachment {
	case Detaching:
		return errorf(ErrConflict, "volume %s is already detaching from vm %s", v.Name, vm.Spec.Name)
	case Attaching:
		return errorf(ErrConflict, "volume %s is still attaching to vm %s; try again once it is attached", v.Name, vm.Spec.Name)
	}
	v.Error, v.UpdatedAt = "", c.At
	if domainMayRun(vm) {
		v.Attachment = Detaching // its host unplugs it, then reports
		return nil
	}
	s.detach(v, vm)
	return nil
}

func applyReportVolume(s *state, c *ReportVolume, _ uint64) error {
	v, ok := s.volumes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "volume %q not found", c.ID)
	}
	vm := s.vms[v.VM]
	if host := s.volumeHost(v); c.Node != host {
		return errorf(ErrState, "volume %s is on node %q, not %q", v.Name, host, c.Node)
	}
	if len(c.Error) > MaxErrorLen {
		c.Error = c.Error[:MaxErrorLen]
	}
	if c.FileGiB > 0 {
		v.FileGiB = c.FileGiB
	}
	v.Error, v.UpdatedAt = c.Error, c.At
	switch {
	case c.Deleted:
		if !v.Deleting {
			return errorf(ErrState, "volume %s is not being deleted", v.Name)
		}
		s.dropVolume(v)
	case c.Attached && v.Attachment == Attaching:
		v.Attachment = Attached
	case c.Detached && v.Attachment == Detaching:
		s.detach(v, vm)
	case c.Error != "" && v.Attachment == Attaching:
		// The hotplug failed: the volume is not the VM's after all.
		s.detach(v, vm)
	}
	return nil
}

// domainMayRun reports whether a VM's host may have its domain running, so
// a change to its disks must go through the host.
func domainMayRun(vm *VM) bool {
	return vm.Node != "" && (vm.DesiredState != VMStopped || vm.State == VMRunning || vm.State == VMPaused)
}

// detach ends v's attachment to vm: in a dir pool it stays on vm's host.
func (s *state) detach(v *Volume, vm *VM) {
	if vm != nil {
		if p, _ := s.pool(v.Pool); !p.Shared() && (v.FileGiB > 0 || v.Attachment == Attaching) && vm.Node != "" {
			v.Host = vm.Node
		}
		ids := slices.DeleteFunc(slices.Clone(s.vmVolumes[vm.ID]), func(id string) bool { return id == v.ID })
		if len(ids) == 0 {
			delete(s.vmVolumes, vm.ID)
		} else {
			s.vmVolumes[vm.ID] = ids
		}
		s.setLocalDisks(vm)
	}
	v.VM, v.Target, v.Attachment = "", "", ""
}

// detachAll detaches every volume of a VM being deleted; its domain goes.
func (s *state) detachAll(vm *VM) {
	for _, id := range slices.Clone(s.vmVolumes[vm.ID]) {
		if v, ok := s.volumes[id]; ok {
			s.detach(v, vm)
		}
	}
	delete(s.vmVolumes, vm.ID)
}

// freeTarget is the first disk name a new volume of vm may take.
func (s *state) freeTarget(vmID string) string {
	taken := map[string]bool{}
	for _, id := range s.vmVolumes[vmID] {
		taken[s.volumes[id].Target] = true
	}
	for i := range MaxVMVolumes {
		t := "vd" + string(rune(firstDataTarget+i))
		if !taken[t] {
			return t
		}
	}
	return ""
}

// setLocalDisks records whether vm has a disk on its host's own disk: a
// root volume or a data volume in a dir pool (a volume shares its VM's
// pool).
func (s *state) setLocalDisks(vm *VM) {
	p, _ := s.pool(vm.Spec.EffectivePool())
	vm.LocalDisks = !p.Shared() && (vm.Spec.Image != "" || len(s.vmVolumes[vm.ID]) > 0)
}

// volumeHost is the node that holds v's file and acts on it: its VM's
// node while attached, else the one recorded.
func (s *state) volumeHost(v *Volume) string {
	if vm, ok := s.vms[v.VM]; ok {
		return vm.Node
	}
	return v.Host
}

// checkVolumesSettled refuses to move a VM while a volume is being
// attached to or detached from it: the move would race its hotplug.
func (s *state) checkVolumesSettled(vm *VM) error {
	for _, id := range s.vmVolumes[vm.ID] {
		if v := s.volumes[id]; v.Attachment != Attached {
			return errorf(ErrConflict, "volume %s is %s vm %s; try again once that is done", v.Name, map[Attachment]string{Attaching: "attaching to", Detaching: "detaching from"}[v.Attachment], vm.Spec.Name)
		}
	}
	return nil
}

// cloneVolume copies v with its host filled in.
func (s *state) cloneVolume(v *Volume) Volume {
	c := *v
	c.Host = s.volumeHost(v)
	return c
}

// Volumes returns every volume, by project and name.
func (f *FSM) Volumes() []Volume {
	f.mu.RLock()
	out := make([]Volume, 0, len(f.s.volumes))
	for _, v := range f.s.volumes {
		out = append(out, f.s.cloneVolume(v))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Volume) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Volume returns one volume by ID.
func (f *FSM) Volume(id string) (Volume, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.s.volumes[id]
	if !ok {
		return Volume{}, errorf(ErrNotFound, "volume %q not found", id)
	}
	return f.s.cloneVolume(v), nil
}

// VolumeByName returns the volume of a project with that name.
func (f *FSM) VolumeByName(project, name string) (Volume, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v := f.s.volumeByName(projectOf(project), name)
	if v == nil {
		return Volume{}, errorf(ErrNotFound, "project %s has no volume %q", projectOf(project), name)
	}
	return f.s.cloneVolume(v), nil
}

// VolumesToSettle returns the detached volumes whose file node holds and
// that wait for it: a delete, or a growth. A host's periodic pass reads
// it, so it copies only those.
func (f *FSM) VolumesToSettle(node string) []Volume {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Volume
	for _, v := range f.s.volumes {
		if v.VM == "" && v.Host == node && (v.Deleting || v.FileGiB > 0 && v.FileGiB != v.SizeGiB) {
			out = append(out, *v)
		}
	}
	return out
}

// VolumesOf returns the volumes attached (or attaching, or detaching) to
// a VM, by target.
func (f *FSM) VolumesOf(vmID string) []Volume {
	f.mu.RLock()
	ids := f.s.vmVolumes[vmID]
	out := make([]Volume, 0, len(ids))
	for _, id := range ids {
		out = append(out, f.s.cloneVolume(f.s.volumes[id]))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Volume) int { return cmp.Compare(a.Target, b.Target) })
	return out
}
