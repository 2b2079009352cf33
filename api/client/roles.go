package client

import (
	"context"
	"net/http"
	"strconv"
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

// AuditEntry is one request on record (GET /api/v1/audit).
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor,omitempty"`
	Via     string    `json:"via,omitempty"`
	Project string    `json:"project,omitempty"`
	Action  string    `json:"action"`
	Object  string    `json:"object,omitempty"`
	Source  string    `json:"source,omitempty"`
	Node    string    `json:"node,omitempty"`
	Status  int       `json:"status"`
	Index   uint64    `json:"index,omitempty"`
	Message string    `json:"message,omitempty"`
}

// AuditFilter selects audit entries; empty fields match all.
type AuditFilter struct {
	Project, Actor, Action, Since string
	Limit                         int
	// Before pages back: entries older than the one with this Seq.
	Before uint64
}

// Audit lists audit entries, newest first: one page of at most Limit.
func (c *Client) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := map[string][]string{}
	for k, v := range map[string]string{"project": f.Project, "actor": f.Actor, "action": f.Action, "since": f.Since} {
		if v != "" {
			q[k] = []string{v}
		}
	}
	if f.Limit > 0 {
		q["limit"] = []string{strconv.Itoa(f.Limit)}
	}
	if f.Before > 0 {
		q["before"] = []string{strconv.FormatUint(f.Before, 10)}
	}
	var out []AuditEntry
	if err := c.get(ctx, apiPrefix+"/audit", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}
