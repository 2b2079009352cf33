package client

import (
	"context"
	"net/http"
	"net/url"
)

// VM states as the API shows them in VM.State; VM.DesiredState is one of
// running, stopped or paused.
const (
	StatePending   = "pending"
	StateScheduled = "scheduled"
	StateRunning   = "running"
	StateStopped   = "stopped"
	StatePaused    = "paused"
	StateError     = "error"
)

// ListVMsOptions filter VMs. Empty fields do not filter.
type ListVMsOptions struct {
	// Node keeps the VMs assigned to this node (ID or name).
	Node string
	// State keeps the VMs in this observed state (running, pending, ...).
	State string
	// Labels keeps the VMs that carry every one of these labels
	// (key=value, ?label= repeated).
	Labels []string
	// AllProjects lists the VMs of every project (?all-projects=true)
	// instead of the Client's project.
	AllProjects bool
}

// VMs lists VMs, filtered by opts (GET /api/v1/vms?node=&state=&label=), every page.
func (c *Client) VMs(ctx context.Context, opts ListVMsOptions) ([]VM, error) {
	q := url.Values{}
	if opts.Node != "" {
		q.Set("node", opts.Node)
	}
	if opts.State != "" {
		q.Set("state", opts.State)
	}
	for _, l := range opts.Labels {
		q.Add("label", l)
	}
	if opts.AllProjects {
		q.Set("all-projects", "true")
	}
	return listAll[VM](ctx, c, apiPrefix+"/vms", q)
}

// VM returns one VM by ID or name (GET /api/v1/vms/{id}).
func (c *Client) VM(ctx context.Context, idOrName string) (*VM, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	var out VM
	if err := c.get(ctx, pathf(apiPrefix+"/vms/%s", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateVM asks for a new VM (POST /api/v1/vms). It starts running once a node has
// been chosen and has started it; the answer shows it as it is at commit time.
// It carries a fresh idempotency key, so a create whose answer was lost (a
// leader change) is retried without ever making two VMs.
func (c *Client) CreateVM(ctx context.Context, req VMRequest) (*VM, error) {
	var out VM
	if _, err := c.send(ctx, request{method: http.MethodPost, path: apiPrefix + "/vms", in: req, out: &out,
		idempotencyKey: newIdempotencyKey()}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateVM replaces a VM's spec (PUT /api/v1/vms/{id}). Size changes take effect
// at the VM's next start.
func (c *Client) UpdateVM(ctx context.Context, idOrName string, req VMRequest) (*VM, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	var out VM
	if err := c.do(ctx, http.MethodPut, pathf(apiPrefix+"/vms/%s", idOrName), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteVM removes a VM (DELETE /api/v1/vms/{id}) and returns it as it was.
func (c *Client) DeleteVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.DeleteVMWithOptions(ctx, idOrName, DeleteVMOptions{})
}

// DeleteVMOptions change what a VM's delete removes.
type DeleteVMOptions struct {
	// KeepVolumes leaves the VM's root volume on its host
	// (?keep_volumes=true), for an operator to recover it; its cloud-init
	// seed goes with the VM.
	KeepVolumes bool
}

// DeleteVMWithOptions is DeleteVM with opts.
func (c *Client) DeleteVMWithOptions(ctx context.Context, idOrName string, opts DeleteVMOptions) (*VM, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	var q url.Values
	if opts.KeepVolumes {
		q = url.Values{"keep_volumes": {"true"}}
	}
	var out VM
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/vms/%s", idOrName), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VM actions accepted by VMAction.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
	ActionPause   = "pause"
	ActionResume  = "resume"
)

// VMAction changes a VM's desired state, or asks for a restart
// (POST /api/v1/vms/{id}/{action}). The answer is the VM after the change; its
// observed state follows once its host has acted.
func (c *Client) VMAction(ctx context.Context, idOrName, action string) (*VM, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	if err := requireID("action", action); err != nil {
		return nil, err
	}
	var out VM
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/vms/%s/%s", idOrName, action), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartVM sets a VM's desired state to running.
func (c *Client) StartVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.VMAction(ctx, idOrName, ActionStart)
}

// StopVM sets a VM's desired state to stopped.
func (c *Client) StopVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.VMAction(ctx, idOrName, ActionStop)
}

// RestartVM asks the VM's host to restart it.
func (c *Client) RestartVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.VMAction(ctx, idOrName, ActionRestart)
}

// PauseVM sets a VM's desired state to paused.
func (c *Client) PauseVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.VMAction(ctx, idOrName, ActionPause)
}

// ResumeVM sets a paused VM's desired state back to running.
func (c *Client) ResumeVM(ctx context.Context, idOrName string) (*VM, error) {
	return c.VMAction(ctx, idOrName, ActionResume)
}
