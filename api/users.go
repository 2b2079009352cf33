package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/password"
)

// Users (issue 14) log in with a password (login.go). An admin creates them
// with a role from the same table as tokens; the password is hashed here,
// with argon2id, and only its hash reaches Raft.

// listUsers lists the users by name, without their password hashes.
func (s *Server) listUsers(r *http.Request, _ httprouter.Params) (any, error) {
	return paginate(s, r, s.state.Users(), userOrder, toClientUser)
}

var userOrder = byName(func(u fsm.User) string { return u.Name }, func(u fsm.User) string { return u.Name })

// getUser shows one user.
func (s *Server) getUser(_ *http.Request, ps httprouter.Params) (any, error) {
	u, err := s.state.User(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	return toClientUser(u), nil
}

// createUser makes a user with a password and a role (reader by default).
func (s *Server) createUser(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.UserRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	role, err := checkRole(req.Role)
	if err != nil {
		return nil, err
	}
	if _, err := s.state.User(req.Name); err == nil {
		return nil, errorf(fsm.ErrConflict, "user %q already exists", req.Name)
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	u := fsm.User{Name: req.Name, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if req.Disabled != nil {
		u.Disabled = *req.Disabled
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateUser{User: u})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return created(toClientUser(u), idx), nil
}

// updateUser changes what the body sets: the password (which ends the
// user's sessions), the role, the disabled flag (disabling ends them too).
func (s *Server) updateUser(r *http.Request, ps httprouter.Params) (any, error) {
	name := ps.ByName("name")
	var req client.UserRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Name != "" && req.Name != name {
		return nil, invalidf("field name: a user is not renamed (%q in the body, %q in the path)", req.Name, name)
	}
	if _, err := s.state.User(name); err != nil {
		return nil, err
	}
	cmd := &fsm.UpdateUser{Name: name, Disabled: req.Disabled, At: time.Now().UTC()}
	if req.Role != "" {
		role, err := checkRole(req.Role)
		if err != nil {
			return nil, err
		}
		cmd.Role = role
	}
	if req.Password != "" {
		hash, err := hashPassword(req.Password)
		if err != nil {
			return nil, err
		}
		cmd.PasswordHash = hash
	}
	if cmd.Role == "" && cmd.PasswordHash == "" && cmd.Disabled == nil {
		return nil, invalidf("nothing to change: set password, role or disabled")
	}
	idx, err := s.cluster.Apply(r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	u, err := s.state.User(name)
	if err != nil {
		return nil, err
	}
	return written(toClientUser(u), idx), nil
}

// deleteUser removes a user and ends its sessions.
func (s *Server) deleteUser(r *http.Request, ps httprouter.Params) (any, error) {
	u, err := s.state.User(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteUser{Name: u.Name})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientUser(u), idx), nil
}

// checkRole is role, or the default role when empty, if it is one.
func checkRole(role string) (string, error) {
	if role == "" {
		return authz.DefaultRole, nil
	}
	if !authz.ValidRole(role) {
		return "", invalidf("role %q is not one of %s", role, strings.Join(authz.Roles(), ", "))
	}
	return role, nil
}

// hashPassword checks a new password's length and hashes it.
func hashPassword(pw string) (string, error) {
	if err := password.Validate(pw); err != nil {
		return "", invalidf("password: %v", err)
	}
	return password.Hash(pw)
}

func toClientUser(u fsm.User) client.User {
	return client.User{Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}
