package api

import (
	"net/http"
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
	role := req.Role
	if role != "" {
		if err := s.checkRole(role); err != nil {
			return nil, err
		}
		if role == noRole {
			role = ""
		}
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
		if err := s.checkRole(req.Role); err != nil {
			return nil, err
		}
		cmd.Role, cmd.NoRole = req.Role, req.Role == noRole
		if cmd.NoRole {
			cmd.Role = ""
		}
	}
	if req.Password != "" {
		hash, err := hashPassword(req.Password)
		if err != nil {
			return nil, err
		}
		cmd.PasswordHash = hash
	}
	if cmd.Role == "" && !cmd.NoRole && cmd.PasswordHash == "" && cmd.Disabled == nil {
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

// noRole in a user's role leaves (or makes) it without a cluster role: it
// has only the roles its projects bind it to.
const noRole = "none"

// checkRole checks a user's cluster role: a role that exists, or noRole.
func (s *Server) checkRole(role string) error {
	if role == noRole {
		return nil
	}
	if _, ok := authz.RolePerms(s.state, role); !ok {
		return invalidf("role %q is not a role (GET /api/v1/roles lists them), nor %q for no cluster role", role, noRole)
	}
	return nil
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
