package client

import (
	"context"
	"net/url"
	"time"
)

// Removal is a deleted VM whose host has not yet confirmed its domain gone:
// `vm delete --wait` waits until the VM has none. NodeStatus is its host's
// status, so a wait can tell a host that is slow from one that is failed
// (a failed host's domains go when it fences itself or comes back).
type Removal struct {
	VMID       string    `json:"vm_id"`
	Name       string    `json:"name"`
	Node       string    `json:"node"`
	NodeName   string    `json:"node_name,omitempty"`
	NodeStatus string    `json:"node_status,omitempty"`
	DeletedAt  time.Time `json:"deleted_at"`
	// Index is the Raft index of the delete.
	Index uint64 `json:"index"`
}

// Removals lists the removals under way, oldest first, every page; node
// (ID or name) filters.
func (c *Client) Removals(ctx context.Context, node string) ([]Removal, error) {
	q := url.Values{}
	if node != "" {
		q.Set("node", node)
	}
	return listAll[Removal](ctx, c, apiPrefix+"/removals", q)
}

// Removal returns the removal of the deleted VM with this ID; a not-found
// error (IsNotFound) once its host has removed its domain, or if it had none.
func (c *Client) Removal(ctx context.Context, vmID string) (*Removal, error) {
	if err := requireID("vm", vmID); err != nil {
		return nil, err
	}
	var out Removal
	if err := c.get(ctx, pathf(apiPrefix+"/removals/%s", vmID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
