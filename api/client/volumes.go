package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Volume attachment states (Volume.Attachment); a detached volume has none.
const (
	VolumeAttaching = "attaching"
	VolumeAttached  = "attached"
	VolumeDetaching = "detaching"
)

// Volume is a data volume (issue 15): a blank qcow2 disk of a project,
// attached to at most one of its VMs at a time, beside the VM's root volume.
type Volume struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	// Format is the file's format: qcow2.
	Format string `json:"format"`
	// SizeGiB is the size asked; FileGiB the size its host last made or
	// grew the file to (0 until the file exists: it is made when the volume
	// first attaches). FileGiB below SizeGiB is a growth still to do.
	SizeGiB int64 `json:"size_gib"`
	FileGiB int64 `json:"file_gib,omitempty"`
	// Host is the node that holds the file: its VM's while attached.
	Host string `json:"host,omitempty"`
	// VM, VMName and Target name the VM it is attached to and its disk
	// there (vdc, vdd, ...); Attachment is attaching while the VM's host
	// hot-plugs it, attached, or detaching while it unplugs it.
	VM         string `json:"vm,omitempty"`
	VMName     string `json:"vm_name,omitempty"`
	Target     string `json:"target,omitempty"`
	Attachment string `json:"attachment,omitempty"`
	// Deleting: deleted; its host removes the file, then the record goes.
	Deleting bool `json:"deleting,omitempty"`
	// Error is why the host's last action on it failed.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// VMVolume is a volume as a single VM's answer lists it (VM.Volumes).
type VMVolume struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Target     string `json:"target"`
	Attachment string `json:"attachment"`
	SizeGiB    int64  `json:"size_gib"`
}

// VolumeRequest is the body of POST /api/v1/volumes; Pool defaults to
// "default".
type VolumeRequest struct {
	Name    string `json:"name"`
	SizeGiB int64  `json:"size_gib"`
	Pool    string `json:"pool,omitempty"`
}

// VolumeResize is the body of PATCH /api/v1/volumes/{id}: the new size,
// never below the current one.
type VolumeResize struct {
	SizeGiB int64 `json:"size_gib"`
}

// AttachRequest is the body of POST /api/v1/vms/{id}/volumes: the volume
// by ID, ID prefix or name (in the VM's project).
type AttachRequest struct {
	Volume string `json:"volume"`
}

// Volumes lists the volumes of the Client's project (every project it may
// read with allProjects), by project and name.
func (c *Client) Volumes(ctx context.Context, allProjects bool) ([]Volume, error) {
	q := url.Values{}
	if allProjects {
		q.Set("all-projects", "true")
	}
	return listAll[Volume](ctx, c, apiPrefix+"/volumes", q)
}

// Volume returns one volume by ID, ID prefix or name.
func (c *Client) Volume(ctx context.Context, idOrName string) (*Volume, error) {
	if err := requireID("volume", idOrName); err != nil {
		return nil, err
	}
	var out Volume
	if err := c.get(ctx, pathf(apiPrefix+"/volumes/%s", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateVolume records a new blank volume (201); its file is made where
// it first attaches.
func (c *Client) CreateVolume(ctx context.Context, req VolumeRequest) (*Volume, error) {
	var out Volume
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/volumes", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResizeVolume grows a volume to sizeGiB (202): its host grows the file,
// FileGiB stays below SizeGiB until it has.
func (c *Client) ResizeVolume(ctx context.Context, idOrName string, sizeGiB int64) (*Volume, error) {
	if err := requireID("volume", idOrName); err != nil {
		return nil, err
	}
	var out Volume
	if err := c.do(ctx, http.MethodPatch, pathf(apiPrefix+"/volumes/%s", idOrName), nil, VolumeResize{SizeGiB: sizeGiB}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteVolume deletes a detached volume: 202 with Deleting set while its
// host removes the file, 200 with the volume as it was when it had none.
func (c *Client) DeleteVolume(ctx context.Context, idOrName string) (*Volume, error) {
	if err := requireID("volume", idOrName); err != nil {
		return nil, err
	}
	var out Volume
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/volumes/%s", idOrName), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AttachVolume attaches a volume to a VM of its project (202): attaching
// while the VM's host hot-plugs it, attached at once when the VM has no
// domain running.
func (c *Client) AttachVolume(ctx context.Context, vm, volume string) (*Volume, error) {
	if err := requireID("vm", vm); err != nil {
		return nil, err
	}
	if err := requireID("volume", volume); err != nil {
		return nil, err
	}
	var out Volume
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/vms/%s/volumes", vm), nil, AttachRequest{Volume: volume}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DetachVolume detaches a volume from a VM (202): detaching while the VM's
// host unplugs it, detached at once when the VM has no domain running.
func (c *Client) DetachVolume(ctx context.Context, vm, volume string) (*Volume, error) {
	if err := requireID("vm", vm); err != nil {
		return nil, err
	}
	if err := requireID("volume", volume); err != nil {
		return nil, err
	}
	var out Volume
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/vms/%s/volumes/%s", vm, volume), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VMVolumes lists the volumes attached to a VM (or attaching, or
// detaching), by target.
func (c *Client) VMVolumes(ctx context.Context, vm string) ([]Volume, error) {
	if err := requireID("vm", vm); err != nil {
		return nil, err
	}
	out := []Volume{}
	if err := c.get(ctx, pathf(apiPrefix+"/vms/%s/volumes", vm), nil, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []Volume{}
	}
	return out, nil
}
