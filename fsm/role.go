package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"slices"
	"strings"
	"time"
)

// Custom roles (issue 14): a name and a list of permissions, each
// "RESOURCE:ACTION" (vm:read, migration:write, vm:*), made by a cluster
// admin beside the built-in roles. The FSM checks their form; package authz
// says which resources exist and keeps the built-in names, which a custom
// role may not take (the API and the leader check both before Raft).

// MaxRoles bounds the custom roles; MaxRolePermissions one role's list.
const (
	MaxRoles           = 200
	MaxRolePermissions = 64
)

// Role is a custom role.
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Permissions []string  `json:"permissions,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateRole adds a custom role.
type CreateRole struct {
	Role Role `json:"role"`
}

// DeleteRole removes a custom role that nothing refers to.
type DeleteRole struct {
	Name string `json:"name"`
}

func (CreateRole) Type() CommandType          { return CmdCreateRole }
func (DeleteRole) Type() CommandType          { return CmdDeleteRole }
func (c CreateRole) target() (string, string) { return "role", c.Role.Name }
func (c DeleteRole) target() (string, string) { return "role", c.Name }

func init() {
	register(CmdCreateRole, "CreateRole", applyCreateRole)
	register(CmdDeleteRole, "DeleteRole", applyDeleteRole)
}

// ValidateRole checks a custom role's form: its name, description, and
// 1 to MaxRolePermissions distinct permissions of the form RESOURCE:ACTION.
func ValidateRole(r *Role) error {
	if err := ValidateName("role name", r.Name); err != nil {
		return err
	}
	if len(r.Description) > MaxProjectDescription {
		return errorf(ErrInvalid, "role description is %d bytes, at most %d", len(r.Description), MaxProjectDescription)
	}
	if len(r.Permissions) == 0 || len(r.Permissions) > MaxRolePermissions {
		return errorf(ErrInvalid, "role %q: give 1 to %d permissions, got %d", r.Name, MaxRolePermissions, len(r.Permissions))
	}
	for i, p := range r.Permissions {
		res, act, ok := strings.Cut(p, ":")
		if !ok || res == "" || act == "" || len(p) > 64 {
			return errorf(ErrInvalid, "role %q: permission %q is not RESOURCE:ACTION (such as vm:read)", r.Name, p)
		}
		if slices.Contains(r.Permissions[:i], p) {
			return errorf(ErrInvalid, "role %q: permission %q is listed twice", r.Name, p)
		}
	}
	return nil
}

func applyCreateRole(s *state, c *CreateRole, _ uint64) error {
	r := c.Role
	if err := ValidateRole(&r); err != nil {
		return err
	}
	if _, dup := s.roles[r.Name]; dup || slices.Contains(BuiltinRoles, r.Name) {
		return errorf(ErrConflict, "role %q already exists", r.Name)
	}
	if len(s.roles) >= MaxRoles {
		return errorf(ErrConflict, "the cluster holds %d custom roles, the most it may", MaxRoles)
	}
	r.Permissions = slices.Clone(r.Permissions)
	s.roles[r.Name] = &r
	return nil
}

func applyDeleteRole(s *state, c *DeleteRole, _ uint64) error {
	if _, ok := s.roles[c.Name]; !ok {
		return errorf(ErrNotFound, "role %q not found", c.Name)
	}
	if uses := s.roleInUse(c.Name); uses != "" {
		return errorf(ErrState, "role %q is still given to %s; take it from them first", c.Name, uses)
	}
	delete(s.roles, c.Name)
	return nil
}

// roleExists refuses a binding to a custom role that is not there. Built-in
// role names are not in the state; the API and the leader check them, so
// here any name that is no custom role is taken as built in when it is one
// of BuiltinRoles.
func (s *state) roleExists(name string) error {
	if _, ok := s.roles[name]; ok || slices.Contains(BuiltinRoles, name) {
		return nil
	}
	return errorf(ErrNotFound, "role %q not found", name)
}

// BuiltinRoles are the role names every cluster has (authz defines what
// they grant; TestBuiltinRoles_MatchAuthz keeps the two lists equal).
var BuiltinRoles = []string{"admin", "cluster-admin", "cluster-reader", "operator", "project-admin", "reader", "viewer"}

// Roles returns the custom roles, by name.
func (f *FSM) Roles() []Role {
	f.mu.RLock()
	out := make([]Role, 0, len(f.s.roles))
	for _, r := range f.s.roles {
		c := *r
		c.Permissions = slices.Clone(r.Permissions)
		out = append(out, c)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Role returns one custom role.
func (f *FSM) Role(name string) (Role, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.s.roles[name]
	if !ok {
		return Role{}, errorf(ErrNotFound, "role %q not found", name)
	}
	c := *r
	c.Permissions = slices.Clone(r.Permissions)
	return c, nil
}
