// Package authz decides who may do what (issue 14): the roles, what each
// grants, the principal a request acts as (a user, through a login session or
// an API key), and the permission each command a user can cause needs, in
// which project (commands.go).
//
// A permission is an action on a resource. Some resources belong to projects
// (vm, migration, project, member, audit): a role bound to a user in a
// project grants them there and nowhere else; every other resource (nodes,
// settings, users, keys of others) is the cluster's, and only a cluster role
// grants it. A key is bounded twice: by its own role in its own scope, and by
// its user's rights; it may do only what both allow.
//
// Two places ask. The API checks the permission of each route against the
// object's own project once it has loaded the object, never against a project
// named in the request. The leader checks every write again before it reaches
// Raft, against its own copy of the caller's key or session, user and
// bindings: a follower's word that a write is allowed is not enough. One
// table serves both, so the two checks cannot drift apart.
package authz

import (
	"errors"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Errors of authorisation. The API answers them as 401 unauthenticated and
// 403 forbidden; the leader's refusals of a forwarded write cross the wire
// with the same codes, so the client sees the same answer whichever node
// refused.
var (
	// ErrUnauthenticated: no valid credential (missing, unknown, revoked,
	// expired).
	ErrUnauthenticated = errors.New("a valid API token is required")
	// ErrForbidden: the caller's roles do not grant what was asked.
	ErrForbidden = errors.New("permission denied")
)

// Perm is what an action needs: an action on a resource.
type Perm struct {
	Resource, Action string
}

// String is the permission as users write it: "vm:write".
func (p Perm) String() string { return p.Resource + ":" + p.Action }

// Read is the permission to read resource.
func Read(resource string) Perm { return Perm{Resource: resource, Action: "read"} }

// Write is the permission to change resource.
func Write(resource string) Perm { return Perm{Resource: resource, Action: "write"} }

// Any in a grant matches every resource or every action.
const Any = "*"

// Resources are every resource a permission may name; Actions every action.
var (
	Resources = []string{"alert", "audit", "cluster", "failover", "image", "member", "migration", "node", "operator", "pool", "project", "role", "settings", "token", "user", "vm", "volume"}
	Actions   = []string{"read", "write"}
)

// projectResources are the resources that belong to a project: a role bound
// in a project grants only these, and only there.
var projectResources = map[string]bool{"vm": true, "migration": true, "project": true, "member": true, "audit": true, "image": true, "volume": true, "alert": true}

// InProject reports whether resource belongs to projects.
func InProject(resource string) bool { return projectResources[resource] }

// Expired reports whether tok has expired at now. A token without an expiry
// never does.
func Expired(tok fsm.Token, now time.Time) bool {
	return !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt)
}

func grants(perms []Perm, p Perm) bool {
	for _, g := range perms {
		if (g.Resource == Any || g.Resource == p.Resource) && (g.Action == Any || g.Action == p.Action) {
			return true
		}
	}
	return false
}
