package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// Data volumes (issue 15): blank disks a project creates, grows, attaches to
// its VMs and deletes. The API records what a user asks; the host that holds
// a volume's file carries it out and reports it, so a grow, a delete and an
// attach or detach of a VM whose domain may run answer 202 with the volume
// as recorded: file_gib below size_gib, deleting, attaching or detaching
// until the host has done it (operations.go follows each).

// volumesAction is POST /api/v1/vms/:id/volumes, which httprouter routes to
// /vms/:id/:action (see vmAction).
const volumesAction = "volumes"

// findVolume finds a volume by ID, ID prefix, or name in the request's
// project, as findImage finds an image.
func (s *Server) findVolume(r *http.Request, ref string) (fsm.Volume, error) {
	project := r.URL.Query().Get(projectParam)
	byName := func(name string) (fsm.Volume, error) { return s.state.VolumeByName(project, name) }
	return findRecord(s, "volume", ref, s.state.Volume, byName, func(v fsm.Volume) string { return v.Name })
}

// findVolumeIn finds a volume by ID (any project), by name in project, or
// by the start of the ID of one of project's volumes: an attach or detach
// names a volume of its VM's project, and an ambiguous prefix must not list
// other projects' volumes.
func (s *Server) findVolumeIn(project, ref string) (fsm.Volume, error) {
	v, err := s.state.Volume(ref)
	if errors.Is(err, fsm.ErrNotFound) {
		v, err = s.state.VolumeByName(project, ref)
	}
	if errors.Is(err, fsm.ErrNotFound) {
		var id string
		id, err = s.byIDPrefixOf("volume", ref, func(prefix string, max int) []string {
			return s.volumeIDsWithPrefix(prefix, project, max)
		}, s.volumeName)
		if err == nil {
			v, err = s.state.Volume(id)
		}
	}
	return v, err
}

// volumeName is the name of the volume id, "" when it is gone.
func (s *Server) volumeName(id string) string {
	v, _ := s.state.Volume(id)
	return v.Name
}

// volumeIDsWithPrefix is IDsWithPrefix for the volumes of one project: it
// scans them (a lookup that missed its ID and name, not a hot path).
func (s *Server) volumeIDsWithPrefix(prefix, project string, max int) []string {
	var out []string
	for _, v := range s.state.Volumes() {
		if strings.HasPrefix(v.ID, prefix) && (project == "" || v.Project == project) {
			out = append(out, v.ID)
		}
	}
	slices.Sort(out)
	return out[:min(len(out), max)]
}

// listVolumes lists the volumes of the request's project (or, with
// ?all-projects=true, of every project the caller may read), by project
// and name.
func (s *Server) listVolumes(r *http.Request, _ httprouter.Params) (any, error) {
	project, err := s.listProject(r)
	if err != nil {
		return nil, err
	}
	pr := caller(r.Context())
	readable, err := readableIn(pr, authz.Read("volume"))
	if err != nil {
		return nil, err
	}
	if project != "" && !readable(project) {
		return nil, errorf(authz.ErrForbidden, "%s lacks %s in project %s", pr.Describe(), authz.Read("volume"), project)
	}
	vols := slices.DeleteFunc(s.state.Volumes(), func(v fsm.Volume) bool {
		return (project != "" && v.Project != project) || !readable(v.Project)
	})
	return paginate(s, r, vols, byName(func(v fsm.Volume) string { return v.Project + vmKeySep + v.Name }, func(v fsm.Volume) string { return v.ID }),
		s.clientVolume)
}

// getVolume shows one volume.
func (s *Server) getVolume(r *http.Request, ps httprouter.Params) (any, error) {
	v, err := s.findVolume(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.clientVolume(v), nil
}

// createVolume records a new blank volume: 201 with it at once (its file is
// made where it first attaches).
func (s *Server) createVolume(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.VolumeRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	if err := checkVolumeSize(req.SizeGiB); err != nil {
		return nil, err
	}
	project, err := writeProject(r)
	if err != nil {
		return nil, err
	}
	pool := req.Pool
	if pool == "" {
		pool = fsm.DefaultPool
	}
	if _, err := s.state.Pool(pool); err != nil {
		return nil, err
	}
	if other, err := s.state.VolumeByName(project, req.Name); err == nil {
		return nil, errorf(fsm.ErrConflict, "project %s already has a volume named %s (%s)", project, req.Name, other.ID)
	}
	v := fsm.Volume{ID: ids.New(), Project: project, Name: req.Name, Pool: pool, SizeGiB: req.SizeGiB, CreatedAt: time.Now().UTC()}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateVolume{Volume: v})
	if err != nil {
		return nil, err
	}
	got, err := s.readVolumeAfter(r, idx, v.ID)
	if err != nil {
		return nil, err
	}
	return created(s.clientVolume(got), idx), nil
}

// checkVolumeSize checks a requested size as the FSM will, with the
// request's field name.
func checkVolumeSize(gib int64) error {
	if gib == 0 {
		return invalidf("size_gib is required: the volume's size in GiB, from 1 to %d", fsm.MaxVolumeGiB)
	}
	if gib < 1 || gib > fsm.MaxVolumeGiB {
		return invalidf("size_gib must be between 1 and %d, got %d", fsm.MaxVolumeGiB, gib)
	}
	return nil
}

// resizeVolume grows a volume: 202 with it, file_gib below size_gib until
// its host has grown the file (a volume never made is made at the new size).
func (s *Server) resizeVolume(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.VolumeResize
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := checkVolumeSize(req.SizeGiB); err != nil {
		return nil, err
	}
	v, err := s.findVolume(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if req.SizeGiB < v.SizeGiB {
		return nil, invalidf("volume %s is %d GiB: a volume only grows (its file system would lose its end), asked %d", v.Name, v.SizeGiB, req.SizeGiB)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.ResizeVolume{ID: v.ID, SizeGiB: req.SizeGiB, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	got, err := s.readVolumeAfter(r, idx, v.ID)
	if err != nil {
		return nil, err
	}
	return accepted(s.clientVolume(got), idx), nil
}

// deleteVolume deletes a detached volume: 202 with it deleting while its
// host removes the file; 200 with the volume as it was when it had no file
// and its record went at once, as an image's delete answers.
func (s *Server) deleteVolume(r *http.Request, ps httprouter.Params) (any, error) {
	v, err := s.findVolume(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteVolume{ID: v.ID, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	if got, err := s.state.Volume(v.ID); err == nil {
		return accepted(s.clientVolume(got), idx), nil
	}
	return written(s.clientVolume(v), idx), nil
}

// attachVolume attaches a volume of the VM's project to it: 202 with the
// volume attaching while the VM's host hot-plugs it, or attached when no
// domain of the VM may run. The route checked vm:write on the VM; the
// volume needs volume:write.
func (s *Server) attachVolume(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.AttachRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Volume) == "" {
		return nil, invalidf("volume is required: the volume's ID, ID prefix or name")
	}
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	v, err := s.vmVolumeRef(r, vm, req.Volume)
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.AttachVolume{ID: v.ID, VM: vm.ID, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	got, err := s.readVolumeAfter(r, idx, v.ID)
	if err != nil {
		return nil, err
	}
	return accepted(s.clientVolume(got), idx), nil
}

// detachVolume detaches a volume from the VM: 202 with it detaching while
// the VM's host unplugs it, or detached when no domain of the VM may run.
func (s *Server) detachVolume(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	v, err := s.vmVolumeRef(r, vm, ps.ByName("volume"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DetachVolume{ID: v.ID, VM: vm.ID, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	got, err := s.readVolumeAfter(r, idx, v.ID)
	if err != nil {
		return nil, err
	}
	return accepted(s.clientVolume(got), idx), nil
}

// vmVolumeRef finds the volume ref names for an attach to or detach from
// vm: by ID or ID prefix, or by name in the VM's project. A volume of
// another project is not found, as if it did not exist; one the caller may
// read but not change is 403.
func (s *Server) vmVolumeRef(r *http.Request, vm fsm.VM, ref string) (fsm.Volume, error) {
	v, err := s.findVolumeIn(vm.Project, ref)
	if err == nil && v.Project != vm.Project {
		err = errorf(fsm.ErrNotFound, "volume %q not found in project %s", ref, vm.Project)
	}
	if err != nil {
		return fsm.Volume{}, err
	}
	pr, perm := caller(r.Context()), authz.Write("volume")
	if !pr.Allowed(v.Project, perm) {
		if !pr.Allowed(v.Project, authz.Read("volume")) {
			return fsm.Volume{}, errorf(fsm.ErrNotFound, "volume %q not found in project %s", ref, vm.Project)
		}
		return fsm.Volume{}, forbidden(pr, v.Project, perm)
	}
	return v, nil
}

// listVMVolumes lists the volumes attached to a VM (or attaching, or
// detaching), by target: at most fsm.MaxVMVolumes, in one answer.
func (s *Server) listVMVolumes(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	vols := s.state.VolumesOf(vm.ID)
	out := make([]client.Volume, 0, len(vols))
	for _, v := range vols {
		out = append(out, toClientVolume(v, vm.Spec.Name))
	}
	return out, nil
}

// readVolumeAfter waits until this node applied index, then reads the
// volume.
func (s *Server) readVolumeAfter(r *http.Request, index uint64, id string) (fsm.Volume, error) {
	if err := s.applied(r.Context(), index); err != nil {
		return fsm.Volume{}, err
	}
	return s.state.Volume(id)
}

// clientVolume converts a volume with the name of its VM (one lookup, for
// an attached volume only).
func (s *Server) clientVolume(v fsm.Volume) client.Volume {
	name := ""
	if v.VM != "" {
		if vm, err := s.state.VM(v.VM); err == nil {
			name = vm.Spec.Name
		}
	}
	return toClientVolume(v, name)
}

// toClientVolume converts a volume; vmName is its VM's name.
func toClientVolume(v fsm.Volume, vmName string) client.Volume {
	return client.Volume{ID: v.ID, Project: v.Project, Name: v.Name, Pool: v.Pool, Format: v.Format,
		SizeGiB: v.SizeGiB, FileGiB: v.FileGiB, Host: v.Host, VM: v.VM, VMName: vmName, Target: v.Target,
		Attachment: string(v.Attachment), Deleting: v.Deleting, Error: v.Error, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

// toClientVMVolumes lists a VM's volumes as its single answer shows them.
func toClientVMVolumes(vols []fsm.Volume) []client.VMVolume {
	out := make([]client.VMVolume, 0, len(vols))
	for _, v := range vols {
		out = append(out, client.VMVolume{ID: v.ID, Name: v.Name, Target: v.Target, Attachment: string(v.Attachment), SizeGiB: v.SizeGiB})
	}
	return out
}
