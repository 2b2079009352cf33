package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Projects are the tenants (issue 14): every VM belongs to one, chosen with
// ?project=NAME on the VM routes (the default project without it). A VM is
// found by ID in any project, by name only in the request's project.

// projectParam is the query parameter that names a request's project, and
// allProjectsParam the one that lists every project's VMs.
const (
	projectParam     = "project"
	allProjectsParam = "all-projects"
)

// requestProject is the project a read names (?project=), the default one
// when it names none; 404 for a project that does not exist here.
func (s *Server) requestProject(r *http.Request) (string, error) {
	name, err := writeProject(r)
	if err != nil {
		return "", err
	}
	if _, _, err := s.state.Project(name); err != nil {
		return "", err
	}
	return name, nil
}

// writeProject is the project a write names, checked for its form only: the
// leader's Apply refuses a project that does not exist, so a write just
// after the project's create, sent to a follower that has not applied it
// yet, is not refused by that follower's stale view.
func writeProject(r *http.Request) (string, error) {
	name := r.URL.Query().Get(projectParam)
	if name == "" {
		return fsm.DefaultProject, nil
	}
	if err := fsm.ValidateName("query parameter project", name); err != nil {
		return "", err
	}
	return name, nil
}

// listProject is the project a list covers: the request's, or every one
// ("") with ?all-projects=true.
func (s *Server) listProject(r *http.Request) (string, error) {
	q := r.URL.Query()
	switch q.Get(allProjectsParam) {
	case "", "false":
		return s.requestProject(r)
	case "true":
		if q.Get(projectParam) != "" {
			return "", invalidf("query parameters project and all-projects=true contradict each other")
		}
		return "", nil
	}
	return "", invalidf("query parameter all-projects: %q is not true or false", q.Get(allProjectsParam))
}

// listProjects lists the projects a page at a time, by name, each with its
// usage.
func (s *Server) listProjects(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	readable, err := readableIn(pr, authz.Read("project"))
	if err != nil {
		return nil, err
	}
	all := slices.DeleteFunc(s.state.Projects(), func(p fsm.Project) bool { return !readable(p.Name) })
	return paginate(s, r, all, projectOrder, func(p fsm.Project) client.Project {
		_, used, _ := s.state.Project(p.Name)
		return toClientProject(p, used)
	})
}

var projectOrder = byName(func(p fsm.Project) string { return p.Name }, func(p fsm.Project) string { return p.Name })

// getProject shows one project with what its VMs use.
func (s *Server) getProject(_ *http.Request, ps httprouter.Params) (any, error) {
	p, used, err := s.state.Project(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	return toClientProject(p, used), nil
}

// createProject makes a project.
func (s *Server) createProject(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.ProjectRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	p := fsm.Project{Name: req.Name, Description: req.Description, Quota: toFSMQuota(req.Quota), CreatedAt: now, UpdatedAt: now}
	if err := fsm.ValidateProject(&p); err != nil {
		return nil, err
	}
	if _, _, err := s.state.Project(p.Name); err == nil {
		return nil, errorf(fsm.ErrConflict, "project %q already exists", p.Name)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateProject{Project: p})
	if err != nil {
		return nil, err
	}
	return s.answerProject(r, idx, p.Name, created)
}

// updateProject replaces a project's description and quota.
func (s *Server) updateProject(r *http.Request, ps httprouter.Params) (any, error) {
	name := ps.ByName("name")
	var req client.ProjectRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Name != "" && req.Name != name {
		return nil, invalidf("field name: a project is not renamed (%q in the body, %q in the path)", req.Name, name)
	}
	cmd := &fsm.UpdateProject{Name: name, Description: req.Description, Quota: toFSMQuota(req.Quota), At: time.Now().UTC()}
	p, _, err := s.state.Project(name)
	if err != nil {
		return nil, err
	}
	p.Description, p.Quota = cmd.Description, cmd.Quota
	if err := fsm.ValidateProject(&p); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), cmd)
	if err != nil {
		return nil, err
	}
	return s.answerProject(r, idx, name, written)
}

// deleteProject removes a project that holds no VM, and answers with it.
func (s *Server) deleteProject(r *http.Request, ps httprouter.Params) (any, error) {
	p, used, err := s.state.Project(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteProject{Name: p.Name})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientProject(p, used), idx), nil
}

// answerProject answers a write of project name once this node applied it.
func (s *Server) answerProject(r *http.Request, idx uint64, name string, answer func(any, uint64) *response) (any, error) {
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	p, used, err := s.state.Project(name)
	if err != nil {
		return nil, err
	}
	return answer(toClientProject(p, used), idx), nil
}

func toClientProject(p fsm.Project, used fsm.Usage) client.Project {
	return client.Project{Name: p.Name, Description: p.Description,
		Quota:     client.Quota{VCPUs: p.Quota.VCPUs, MemoryMiB: p.Quota.MemoryMiB, DiskGiB: p.Quota.DiskGiB, VMs: p.Quota.VMs},
		Usage:     client.Usage{VCPUs: used.VCPUs, MemoryMiB: used.MemoryMiB, DiskGiB: used.DiskGiB, VMs: used.VMs},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func toFSMQuota(q client.Quota) fsm.Quota {
	return fsm.Quota{VCPUs: q.VCPUs, MemoryMiB: q.MemoryMiB, DiskGiB: q.DiskGiB, VMs: q.VMs}
}
