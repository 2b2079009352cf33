package client

import (
	"context"
	"net/http"
)

// Snapshot states (VMSnapshot.State).
const (
	SnapshotCreating  = "creating"
	SnapshotReady     = "ready"
	SnapshotReverting = "reverting"
	SnapshotDeleting  = "deleting"
	SnapshotFailed    = "failed"
)

// SnapshotRequest is the body of POST /api/v1/vms/{id}/snapshots. Memory
// asks that a revert resume the guest from the instant of the snapshot
// (a running or paused VM only); without it a revert restarts the guest
// from its disks as they were.
type SnapshotRequest struct {
	Name   string `json:"name"`
	Memory bool   `json:"memory"`
}

// VMSnapshots lists a VM's snapshots, oldest first.
func (c *Client) VMSnapshots(ctx context.Context, vm string) ([]VMSnapshot, error) {
	if err := requireID("vm", vm); err != nil {
		return nil, err
	}
	out := []VMSnapshot{}
	if err := c.get(ctx, pathf(apiPrefix+"/vms/%s/snapshots", vm), nil, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []VMSnapshot{}
	}
	return out, nil
}

// VMSnapshot returns one snapshot of a VM, by name.
func (c *Client) VMSnapshot(ctx context.Context, vm, name string) (*VMSnapshot, error) {
	if err := requireSnapshot(vm, name); err != nil {
		return nil, err
	}
	var out VMSnapshot
	if err := c.get(ctx, pathf(apiPrefix+"/vms/%s/snapshots/%s", vm, name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateVMSnapshot asks for a new snapshot of a VM (202): creating until
// the VM's host has taken it (ready) or could not (failed, with Error).
func (c *Client) CreateVMSnapshot(ctx context.Context, vm string, req SnapshotRequest) (*VMSnapshot, error) {
	if err := requireID("vm", vm); err != nil {
		return nil, err
	}
	var out VMSnapshot
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/vms/%s/snapshots", vm), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevertVMSnapshot returns a VM to a snapshot (202): reverting until the
// VM's host has done it (ready again; with Error if it failed).
func (c *Client) RevertVMSnapshot(ctx context.Context, vm, name string) (*VMSnapshot, error) {
	if err := requireSnapshot(vm, name); err != nil {
		return nil, err
	}
	var out VMSnapshot
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/vms/%s/snapshots/%s/revert", vm, name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteVMSnapshot deletes a snapshot: 202 with it deleting while the VM's
// host removes it (then it is gone; ready again, with Error, if the host
// could not), 200 with the snapshot as it was when it had failed (gone at
// once).
func (c *Client) DeleteVMSnapshot(ctx context.Context, vm, name string) (*VMSnapshot, error) {
	if err := requireSnapshot(vm, name); err != nil {
		return nil, err
	}
	var out VMSnapshot
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/vms/%s/snapshots/%s", vm, name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// requireSnapshot refuses an empty VM or snapshot name before any request.
func requireSnapshot(vm, name string) error {
	if err := requireID("vm", vm); err != nil {
		return err
	}
	return requireID("snapshot", name)
}
