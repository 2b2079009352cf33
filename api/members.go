package api

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Members of a project (issue 14): GET, POST and DELETE
// /api/v1/projects/{p}/members. The route checks member read or write in
// that project; binding a role also needs the caller to hold everything the
// role grants there (authz.Principal.Within), so a project admin cannot make
// anyone stronger than itself. The leader checks both again.

// listMembers lists a project's bindings, users first, by name.
func (s *Server) listMembers(_ *http.Request, ps httprouter.Params) (any, error) {
	p, _, err := s.state.Project(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	out := make([]client.ProjectMember, 0, len(p.Members))
	for _, m := range p.Members {
		out = append(out, client.ProjectMember{User: m.User, Group: m.Group, Role: m.Role})
	}
	return out, nil
}

// setMember binds a user or a group to a role in the project (replacing
// its role there).
func (s *Server) setMember(r *http.Request, ps httprouter.Params) (any, error) {
	project := ps.ByName("name")
	var req client.ProjectMember
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	m := fsm.Member{User: req.User, Group: req.Group, Role: req.Role}
	if err := fsm.ValidateMember(m, false); err != nil {
		return nil, err
	}
	if _, ok := authz.RolePerms(s.state, req.Role); !ok {
		return nil, errorf(fsm.ErrNotFound, "role %q not found: GET /api/v1/roles lists them", req.Role)
	}
	if req.User != "" {
		if _, err := s.state.User(req.User); err != nil {
			return nil, err
		}
	}
	if err := caller(r.Context()).Within(s.state, req.Role, project); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.SetMember{Project: project, User: req.User, Group: req.Group, Role: req.Role})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(req, idx), nil
}

// removeMember takes a user, or "group:NAME", out of the project.
func (s *Server) removeMember(r *http.Request, ps httprouter.Params) (any, error) {
	project, subject := ps.ByName("name"), ps.ByName("subject")
	cmd := &fsm.SetMember{Project: project, User: subject}
	if g, ok := strings.CutPrefix(subject, fsm.GroupPrefix); ok {
		cmd.User, cmd.Group = "", g
	}
	if err := fsm.ValidateMember(fsm.Member{User: cmd.User, Group: cmd.Group}, true); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(map[string]string{"status": "removed", "member": subject, "project": project}, idx), nil
}
