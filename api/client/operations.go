package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Operation states.
const (
	OperationPending   = "pending"
	OperationRunning   = "running"
	OperationSucceeded = "succeeded"
	OperationFailed    = "failed"
	OperationCancelled = "cancelled"
)

// OperationFinal reports whether an operation in state st has ended.
func OperationFinal(st string) bool {
	return st == OperationSucceeded || st == OperationFailed || st == OperationCancelled
}

// Operation is a long action as the API tracks it (GET /api/v1/operations):
// a migration (or drain's move), an image import, a VM's creation until its
// domain first runs, a volume's attach, detach, growth or deletion until its
// host has done it, a VM snapshot's creation, revert or deletion until the
// VM's host has done it, a node's drain while the node is in maintenance.
// Its ID is the ID of the record it follows (the migration's, the image's,
// the VM's, the volume's; a snapshot's is its VM's ID and its name joined
// by a colon; a drain's is "drain:" and its node's ID), which Links name.
type Operation struct {
	ID string `json:"id"`
	// Kind is migration, image_import, vm_create, volume_attach,
	// volume_detach, volume_resize, volume_delete, snapshot_create,
	// snapshot_revert, snapshot_delete or drain.
	Kind    string          `json:"kind"`
	Project string          `json:"project,omitempty"`
	Object  OperationObject `json:"object"`
	// State is pending, running, succeeded, failed or cancelled.
	State     string            `json:"state"`
	Progress  float64           `json:"progress"`
	Error     string            `json:"error,omitempty"`
	MayCancel bool              `json:"may_cancel"`
	CreatedAt time.Time         `json:"created"`
	UpdatedAt time.Time         `json:"updated"`
	Links     map[string]string `json:"links,omitempty"`
}

// OperationObject names what an operation acts on.
type OperationObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Operations lists the operations of every project the caller may read,
// newest first, every page.
func (c *Client) Operations(ctx context.Context) ([]Operation, error) {
	return listAll[Operation](ctx, c, apiPrefix+"/operations", nil)
}

// Operation returns one operation; with wait > 0 the server answers once it
// has ended or wait has passed (GET /api/v1/operations/{id}?wait=30s).
func (c *Client) Operation(ctx context.Context, id string, wait time.Duration) (*Operation, error) {
	if err := requireID("operation", id); err != nil {
		return nil, err
	}
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.String()}}
	}
	var out Operation
	if err := c.get(ctx, pathf(apiPrefix+"/operations/%s", id), q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelOperation asks an operation to stop (DELETE /api/v1/operations/{id}):
// a migration's source aborts the copy; a drain's node leaves maintenance.
func (c *Client) CancelOperation(ctx context.Context, id string) (*Operation, error) {
	if err := requireID("operation", id); err != nil {
		return nil, err
	}
	var out Operation
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/operations/%s", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
