package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"time"
)

// Data volumes (issue 15): blank qcow2 disks a project creates, grows,
// attaches to its VMs and detaches, beside each VM's root volume. A volume
// lives in one pool; in a dir pool its file is on one host's own disk, so
// it attaches only to a VM on that host (a volume never made yet attaches
// anywhere, and is made where its VM runs), and it moves with its VM when
// the VM migrates live. A volume is attached to one VM at a time, as
// virtio disk vdc, vdd, ... (vda is the root volume, vdb the cloud-init
// seed); the target is fixed when it attaches, so a hotplug and every
// later start agree.
//
// The API writes what a user asks (create, resize, attach, detach,
// delete); the host that holds the file carries it out and reports it
// (ReportVolume). While a VM's domain may be running, an attach or detach
// is pending ("attaching", "detaching") until its host has hot-plugged the
// disk; with no domain to change it takes effect at once.

// Attachment is where a volume is in being attached to its VM.
type Attachment string

// Attachment states; a detached volume has none.
const (
	Attaching Attachment = "attaching"
	Attached  Attachment = "attached"
	Detaching Attachment = "detaching"
)

// Bounds on volumes.
const (
	MaxVolumes      = 50000
	MaxVolumeGiB    = 64 << 10
	MaxVMVolumes    = 16
	firstDataTarget = 'c'
)

// Volume is a data volume.
type Volume struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	// Format is the file's format, recorded (always qcow2 for a volume
	// NovaCron makes), never probed.
	Format  string `json:"format"`
	SizeGiB int64  `json:"size_gib"`
	// FileGiB is the size its host last made or grew the file to; 0 until
	// the file exists. A SizeGiB above it is a resize still to do.
	FileGiB int64 `json:"file_gib,omitempty"`
	// Host is the node whose pool folder holds the file. It is stored for a
	// detached volume; an attached one is where its VM is (queries fill it).
	Host string `json:"host,omitempty"`
	// VM and Target name the VM it is attached to and its disk there.
	VM         string     `json:"vm,omitempty"`
	Target     string     `json:"target,omitempty"`
	Attachment Attachment `json:"attachment,omitempty"`
	// Deleting: deleted by a user; its host removes the file, then the record.
	Deleting  bool      `json:"deleting,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateVolume records a new blank volume; its file is made when it first
// attaches.
type CreateVolume struct {
	Volume Volume `json:"volume"`
}

// ResizeVolume grows a volume (never shrinks it: a guest's file system
// would lose its end).
type ResizeVolume struct {
	ID      string    `json:"id"`
	SizeGiB int64     `json:"size_gib"`
	At      time.Time `json:"at"`
}

// DeleteVolume deletes a detached volume.
type DeleteVolume struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// AttachVolume attaches a detached volume to a VM of its project and pool.
type AttachVolume struct {
	ID string    `json:"id"`
	VM string    `json:"vm"`
	At time.Time `json:"at"`
}

// DetachVolume detaches a volume from its VM (VM names it, so a detach
// meant for another VM than the volume's is refused).
type DetachVolume struct {
	ID string    `json:"id"`
	VM string    `json:"vm"`
	At time.Time `json:"at"`
}

// ReportVolume is a host's account of what it did to a volume: the file
// made or grown (FileGiB), a pending attach or detach done, the file
// removed (Deleted), or an action that failed (Error; a failed attach is
// undone).
type ReportVolume struct {
	ID       string    `json:"id"`
	Node     string    `json:"node"`
	FileGiB  int64     `json:"file_gib,omitempty"`
	Attached bool      `json:"attached,omitempty"`
	Detached bool      `json:"detached,omitempty"`
	Deleted  bool      `json:"deleted,omitempty"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"at"`
}

func (CreateVolume) Type() CommandType          { return CmdCreateVolume }
func (ResizeVolume) Type() CommandType          { return CmdResizeVolume }
func (DeleteVolume) Type() CommandType          { return CmdDeleteVolume }
func (AttachVolume) Type() CommandType          { return CmdAttachVolume }
func (DetachVolume) Type() CommandType          { return CmdDetachVolume }
func (ReportVolume) Type() CommandType          { return CmdReportVolume }
func (c CreateVolume) target() (string, string) { return "volume", c.Volume.ID }
func (c ResizeVolume) target() (string, string) { return "volume", c.ID }
func (c DeleteVolume) target() (string, string) { return "volume", c.ID }
func (c ReportVolume) target() (string, string) { return "volume", c.ID }

// An attach or detach wakes the VM's host: its domain's disks change.
func (c AttachVolume) target() (string, string) { return "vm", c.VM }
func (c DetachVolume) target() (string, string) { return "vm", c.VM }

func init() {
	register(CmdCreateVolume, "CreateVolume", applyCreateVolume)
	register(CmdResizeVolume, "ResizeVolume", applyResizeVolume)
	register(CmdDeleteVolume, "DeleteVolume", applyDeleteVolume)
	register(CmdAttachVolume, "AttachVolume", applyAttachVolume)
	register(CmdDetachVolume, "DetachVolume", applyDetachVolume)
	register(CmdReportVolume, "ReportVolume", applyReportVolume)
}

func applyCreateVolume(s *state, c *CreateVolume, _ uint64) error {
	v := c.Volume
	if err := ValidateName("volume id", v.ID); err != nil {
		return err // an ID names the volume's file on its host: no slashes
	}
	if _, dup := s.volumes[v.ID]; dup {
		return errorf(ErrConflict, "volume id %q already exists", v.ID)
	}
	if err := ValidateName("volume name", v.Name); err != nil {
		return err
	}
	v.Project = projectOf(v.Project)
	if _, ok := s.projects[v.Project]; !ok {
		return errorf(ErrNotFound, "project %q not found", v.Project)
	}
	if v.Pool == "" {
		v.Pool = DefaultPool
	}
	if _, ok := s.pool(v.Pool); !ok {
		return errorf(ErrNotFound, "pool %q not found", v.Pool)
	}
	if err := checkVolumeSize(v.SizeGiB); err != nil {
		return err
	}
	if s.volumeByName(v.Project, v.Name) != nil {
		return errorf(ErrConflict, "project %s already has a volume named %s", v.Project, v.Name)
	}
	if len(s.volumes) >= MaxVolumes {
		return errorf(ErrConflict, "the cluster holds %d volumes, the most it may", MaxVolumes)
	}
	if err := s.checkQuota(v.Project, Usage{DiskGiB: v.SizeGiB}); err != nil {
		return err
	}
	v.Format, v.FileGiB, v.Host, v.VM, v.Target, v.Attachment = DiskQCOW2, 0, "", "", "", ""
	v.Deleting, v.Error, v.UpdatedAt = false, "", v.CreatedAt
	s.volumes[v.ID] = &v
	s.useDisk(v.Project, v.SizeGiB)
	return nil
}

func checkVolumeSize(gib int64) error {
	if gib < 1 || gib > MaxVolumeGiB {
		return errorf(ErrInvalid, "size_gib must be between 1 and %d, got %d", MaxVolumeGiB, gib)
	}
	return nil
}

func applyResizeVolume(s *state, c *ResizeVolume, _ uint64) error {
	v, err := s.liveVolume(c.ID)
	if err != nil {
		return err
	}
	if err := checkVolumeSize(c.SizeGiB); err != nil {
		return err
	}
	if c.SizeGiB < v.SizeGiB {
		return errorf(ErrInvalid, "volume %s is %d GiB: a volume only grows (its file system would lose its end), asked %d", v.Name, v.SizeGiB, c.SizeGiB)
	}
	if v.Attachment == Attaching || v.Attachment == Detaching {
		return errorf(ErrConflict, "volume %s is %s; try again once that is done", v.Name, v.Attachment)
	}
	if vm, ok := s.vms[v.VM]; ok && c.SizeGiB > v.SizeGiB {
		if err := checkNoSnapshots(vm, "a revert would take volume "+v.Name+" back to its old size"); err != nil {
			return err
		}
	}
	if err := s.checkQuota(v.Project, Usage{DiskGiB: c.SizeGiB - v.SizeGiB}); err != nil {
		return err
	}
	s.useDisk(v.Project, c.SizeGiB-v.SizeGiB)
	v.SizeGiB, v.Error, v.UpdatedAt = c.SizeGiB, "", c.At
	return nil
}

func applyDeleteVolume(s *state, c *DeleteVolume, _ uint64) error {
	v, err := s.liveVolume(c.ID)
	if err != nil {
		return err
	}
	if v.VM != "" {
		return errorf(ErrState, "volume %s is attached to vm %s; detach it first", v.Name, s.vmName(v.VM))
	}
	if v.FileGiB == 0 && v.Host == "" {
		s.dropVolume(v) // never made: nothing to remove on any host
		return nil
	}
	v.Deleting, v.Error, v.UpdatedAt = true, "", c.At
	return nil
}

// liveVolume finds a volume that is not being deleted.
func (s *state) liveVolume(id string) (*Volume, error) {
	v, ok := s.volumes[id]
	if !ok {
		return nil, errorf(ErrNotFound, "volume %q not found", id)
	}
	if v.Deleting {
		return nil, errorf(ErrState, "volume %s is being deleted", v.Name)
	}
	return v, nil
}

func (s *state) dropVolume(v *Volume) {
	s.useDisk(v.Project, -v.SizeGiB)
	delete(s.volumes, v.ID)
}

func (s *state) vmName(id string) string {
	if vm, ok := s.vms[id]; ok {
		return vm.Spec.Name
	}
	return id
}

// volumeByName finds a volume by project and name.
func (s *state) volumeByName(project, name string) *Volume {
	for _, v := range s.volumes {
		if v.Project == project && v.Name == name {
			return v
		}
	}
	return nil
}

// useDisk counts a volume's size in its project's disk use (quota).
func (s *state) useDisk(project string, gib int64) {
	s.addUsage(project, Usage{DiskGiB: gib}, 1)
}
