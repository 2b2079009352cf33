package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Roles (issue 14): the built-in ones and the custom ones a cluster admin
// makes from (resource, action) pairs. Every caller may read them, so that
// a user can see what a role it is offered grants.

// listRoles lists the built-in roles, then the custom ones, by name.
func (s *Server) listRoles(_ *http.Request, _ httprouter.Params) (any, error) {
	var out []client.Role
	for _, name := range authz.BuiltinRoles() {
		out = append(out, builtinRole(name))
	}
	for _, r := range s.state.Roles() {
		out = append(out, toClientRole(r))
	}
	return out, nil
}

// getRole shows one role.
func (s *Server) getRole(_ *http.Request, ps httprouter.Params) (any, error) {
	name := ps.ByName("name")
	if _, _, ok := authz.RoleDoc(name); ok {
		return builtinRole(name), nil
	}
	r, err := s.state.Role(name)
	if err != nil {
		return nil, err
	}
	return toClientRole(r), nil
}

// createRole makes a custom role.
func (s *Server) createRole(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.RoleRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	role := fsm.Role{Name: req.Name, Description: req.Description, Permissions: req.Permissions, CreatedAt: time.Now().UTC()}
	if err := fsm.ValidateRole(&role); err != nil {
		return nil, err
	}
	if err := authz.CheckCustomRole(role); err != nil {
		return nil, invalidf("%v", err)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateRole{Role: role})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return created(toClientRole(role), idx), nil
}

// deleteRole removes a custom role nothing refers to.
func (s *Server) deleteRole(r *http.Request, ps httprouter.Params) (any, error) {
	name := ps.ByName("name")
	if _, _, ok := authz.RoleDoc(name); ok {
		return nil, errorf(fsm.ErrState, "role %q is built in and cannot be deleted", name)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteRole{Name: name})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(map[string]string{"status": "deleted", "role": name}, idx), nil
}

func builtinRole(name string) client.Role {
	doc, perms, _ := authz.RoleDoc(name)
	out := client.Role{Name: name, Builtin: true, Description: doc}
	for _, p := range perms {
		out.Permissions = append(out.Permissions, p.String())
	}
	return out
}

func toClientRole(r fsm.Role) client.Role {
	at := r.CreatedAt
	return client.Role{Name: r.Name, Description: r.Description, Permissions: r.Permissions, CreatedAt: &at}
}
