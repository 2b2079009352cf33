package client

import (
	"context"
	"net/http"
	"time"
)

// ProjectMember binds a user or a group to a role in a project (issue 14):
// POST /api/v1/projects/{p}/members {"user":"alice","role":"operator"}.
type ProjectMember struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	Role  string `json:"role"`
}

// Role is a built-in or custom role and the permissions it grants, each
// "RESOURCE:ACTION".
type Role struct {
	Name        string     `json:"name"`
	Builtin     bool       `json:"builtin"`
	Description string     `json:"description,omitempty"`
	Permissions []string   `json:"permissions"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
}

// RoleRequest is the body of POST /api/v1/roles: a custom role.
type RoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// Members lists a project's members.
func (c *Client) Members(ctx context.Context, project string) ([]ProjectMember, error) {
	if err := requireID("project", project); err != nil {
		return nil, err
	}
	return listAll[ProjectMember](ctx, c, pathf(apiPrefix+"/projects/%s/members", project), nil)
}

// SetMember binds m's user or group to m's role in project.
func (c *Client) SetMember(ctx context.Context, project string, m ProjectMember) (*ProjectMember, error) {
	if err := requireID("project", project); err != nil {
		return nil, err
	}
	var out ProjectMember
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/projects/%s/members", project), nil, m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveMember takes a user (or "group:NAME") out of project.
func (c *Client) RemoveMember(ctx context.Context, project, subject string) error {
	if err := requireID("project", project); err != nil {
		return err
	}
	if err := requireID("member", subject); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/projects/%s/members/%s", project, subject), nil, nil, nil)
}

// Roles lists the built-in and custom roles.
func (c *Client) Roles(ctx context.Context) ([]Role, error) {
	return listAll[Role](ctx, c, apiPrefix+"/roles", nil)
}

// Role shows one role.
func (c *Client) Role(ctx context.Context, name string) (*Role, error) {
	if err := requireID("role", name); err != nil {
		return nil, err
	}
	var out Role
	if err := c.get(ctx, pathf(apiPrefix+"/roles/%s", name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateRole makes a custom role.
func (c *Client) CreateRole(ctx context.Context, req RoleRequest) (*Role, error) {
	var out Role
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/roles", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRole removes a custom role that nothing refers to.
func (c *Client) DeleteRole(ctx context.Context, name string) error {
	if err := requireID("role", name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/roles/%s", name), nil, nil, nil)
}
