package client

import (
	"context"
	"net/http"
	"time"
)

// Quota bounds what a project's VMs may take, summed over all of them. A nil
// limit is no limit.
type Quota struct {
	VCPUs     *int64 `json:"vcpus,omitempty"`
	MemoryMiB *int64 `json:"memory_mib,omitempty"`
	DiskGiB   *int64 `json:"disk_gib,omitempty"`
	VMs       *int64 `json:"vms,omitempty"`
}

// Usage is what a project's VMs take.
type Usage struct {
	VCPUs     int64 `json:"vcpus"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskGiB   int64 `json:"disk_gib"`
	VMs       int64 `json:"vms"`
}

// Project is a tenant: every VM belongs to one (issue 14).
type Project struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Quota       Quota     `json:"quota"`
	Usage       Usage     `json:"usage"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ProjectRequest is the body of POST /api/v1/projects (Name required) and of
// PUT /api/v1/projects/{name} (Name left out or the same: a project is not
// renamed; the description and the whole quota are replaced).
type ProjectRequest struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Quota       Quota  `json:"quota"`
}

// DefaultProject is the project of a VM created without one.
const DefaultProject = "default"

// Projects lists the projects by name, every page.
func (c *Client) Projects(ctx context.Context) ([]Project, error) {
	return listAll[Project](ctx, c, apiPrefix+"/projects", nil)
}

// Project returns one project with its usage.
func (c *Client) Project(ctx context.Context, name string) (*Project, error) {
	if err := requireID("project", name); err != nil {
		return nil, err
	}
	var out Project
	if err := c.get(ctx, pathf(apiPrefix+"/projects/%s", name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateProject makes a project.
func (c *Client) CreateProject(ctx context.Context, req ProjectRequest) (*Project, error) {
	var out Project
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/projects", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateProject replaces a project's description and quota.
func (c *Client) UpdateProject(ctx context.Context, name string, req ProjectRequest) (*Project, error) {
	if err := requireID("project", name); err != nil {
		return nil, err
	}
	var out Project
	if err := c.do(ctx, http.MethodPut, pathf(apiPrefix+"/projects/%s", name), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteProject removes a project that holds no VM.
func (c *Client) DeleteProject(ctx context.Context, name string) (*Project, error) {
	if err := requireID("project", name); err != nil {
		return nil, err
	}
	var out Project
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/projects/%s", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
