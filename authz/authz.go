// Package authz decides who may do what: the roles API tokens carry, the
// permission each role grants, and the permission each command a user can
// cause needs (commands.go).
//
// Two places ask it. The API checks a request's token against the route's
// permission before it handles the request (package api). The leader checks
// every write again before it reaches Raft, against its own copy of the
// caller's token (package cluster): a follower's word that a write is allowed
// is not enough. One table serves both, so the two checks cannot drift apart.
package authz

import (
	"errors"
	"slices"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Errors of authorisation. The API answers them as 401 unauthenticated and
// 403 forbidden; the leader's refusals of a forwarded write cross the wire
// with the same codes, so the client sees the same answer whichever node
// refused.
var (
	// ErrUnauthenticated: no valid token (missing, unknown, revoked, expired).
	ErrUnauthenticated = errors.New("a valid API token is required")
	// ErrForbidden: the token's role does not grant what was asked.
	ErrForbidden = errors.New("permission denied")
)

// Perm is what an action needs: an action on a resource. Resources are
// cluster, node, vm, migration, failover, settings, token and project;
// actions are read and write.
type Perm struct {
	Resource, Action string
}

func (p Perm) String() string { return p.Action + " " + p.Resource }

// Read is the permission to read resource.
func Read(resource string) Perm { return Perm{Resource: resource, Action: "read"} }

// Write is the permission to change resource.
func Write(resource string) Perm { return Perm{Resource: resource, Action: "write"} }

// Any in a grant matches every resource or every action.
const Any = "*"

// roles is the one table of what each role may do. A new role (or a
// tenant-scoped one) is a new row; nothing else changes.
var roles = map[string][]Perm{
	"admin": {{Resource: Any, Action: Any}},
	"operator": {
		{Resource: "cluster", Action: "read"},
		{Resource: "node", Action: "read"}, {Resource: "node", Action: "write"},
		{Resource: "vm", Action: "read"}, {Resource: "vm", Action: "write"},
		{Resource: "migration", Action: "read"}, {Resource: "migration", Action: "write"},
		{Resource: "failover", Action: "read"},
		{Resource: "settings", Action: "read"},
		{Resource: "project", Action: "read"},
	},
	"reader": {
		{Resource: "cluster", Action: "read"},
		{Resource: "node", Action: "read"},
		{Resource: "vm", Action: "read"},
		{Resource: "migration", Action: "read"},
		{Resource: "failover", Action: "read"},
		{Resource: "settings", Action: "read"},
		{Resource: "project", Action: "read"},
	},
}

// DefaultRole is the role of a token created without one: the weakest, so a
// forgotten --role gives too little rather than too much (issue 11).
const DefaultRole = "reader"

// Roles returns the names of the valid token roles, sorted.
func Roles() []string {
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// ValidRole reports whether role is a known token role.
func ValidRole(role string) bool {
	_, ok := roles[role]
	return ok
}

// Allowed reports whether role grants p. An unknown role grants nothing.
func Allowed(role string, p Perm) bool {
	for _, g := range roles[role] {
		if (g.Resource == Any || g.Resource == p.Resource) && (g.Action == Any || g.Action == p.Action) {
			return true
		}
	}
	return false
}

// Expired reports whether tok has expired at now. A token without an expiry
// never does.
func Expired(tok fsm.Token, now time.Time) bool {
	return !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt)
}
