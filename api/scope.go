package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// Every authenticated route has a scope that says where its permission is
// checked (issue 14):
//
//   - cluster: in the cluster; only a cluster role grants it (nodes,
//     settings, users, creating projects);
//   - project: in the project the request names (?project=, a project key's
//     own, or the default one): creating and listing VMs;
//   - object: in the project of the object the route names, once it is
//     loaded (a VM, a migration, a project): never the project the request
//     names, so ?project=mine cannot reach another project's VM by its ID;
//   - caller: any authenticated caller; the handler shows only what is the
//     caller's or what it may read (whoami, its sessions and keys, lists
//     filtered by project).
//
// A caller that may not even read an object's project is answered 404, as
// if the object did not exist; one that may read but not change it, 403
// naming the role, the project and the permission it lacks.

type scopeKind string

const (
	scopeCluster scopeKind = "cluster"
	scopeProject scopeKind = "project"
	scopeObject  scopeKind = "object"
	scopeCaller  scopeKind = "caller"
)

// objectLoader finds the object a route names: kind names it in a 404, and
// project returns its project (an error, not found most often, is answered
// as it is).
type objectLoader struct {
	kind    string
	project func(s *Server, r *http.Request, ps httprouter.Params) (string, error)
}

// securedRoute is one authenticated route: what it needs, and where.
type securedRoute struct {
	method, pattern string
	perm            perm
	scope           scopeKind
}

// route registers a route whose permission is the cluster's.
func (s *Server) route(method, pattern string, p perm, h handlerFunc) {
	s.authRoute(method, pattern, p, scopeCluster, nil, h)
}

// projectRoute registers a route whose permission is checked in the
// project the request names.
func (s *Server) projectRoute(method, pattern string, p perm, h handlerFunc) {
	s.authRoute(method, pattern, p, scopeProject, nil, h)
}

// objectRoute registers a route whose permission is checked in the project
// of the object load finds.
func (s *Server) objectRoute(method, pattern string, p perm, load objectLoader, h handlerFunc) {
	s.authRoute(method, pattern, p, scopeObject, &load, h)
}

// callerRoute registers a route every authenticated caller may call; the
// handler decides what it shows.
func (s *Server) callerRoute(method, pattern string, h handlerFunc) {
	s.authRoute(method, pattern, perm{}, scopeCaller, nil, h)
}

// authRoute registers a route behind authentication, authorization, the body
// size limit and, for GET, the ?index / ?consistent wait.
func (s *Server) authRoute(method, pattern string, p perm, scope scopeKind, load *objectLoader, h handlerFunc) {
	s.securedRoute(method, pattern, p, scope, load, h, nil)
}

// rawHandler serves a request itself (a WebSocket, a byte stream): it
// returns an error only when it has written nothing, for the one table.
type rawHandler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

// streamRoute registers an object route served by a rawHandler, without
// the request timeout: a console stays open while its user types.
func (s *Server) streamRoute(method, pattern string, p perm, load objectLoader, h rawHandler) {
	s.securedRoute(method, pattern, p, scopeObject, &load, nil, h)
}

// securedRoute is authRoute for a JSON handler h or a raw one.
func (s *Server) securedRoute(method, pattern string, p perm, scope scopeKind, load *objectLoader, h handlerFunc, raw rawHandler) {
	if scope != scopeCaller && (p.Resource == "" || p.Action == "") {
		panic(fmt.Sprintf("api: route %s %s registered without a permission", method, pattern))
	}
	if (scope == scopeObject) != (load != nil) {
		panic(fmt.Sprintf("api: route %s %s: an object route needs a loader, and only it", method, pattern))
	}
	s.secured = append(s.secured, securedRoute{method: method, pattern: pattern, perm: p, scope: scope})
	// The cluster's status answers from the local copy even on a node that
	// has lost the leader: an operator asks it exactly then (authenticate).
	clusterStatus := method == http.MethodGet && strings.HasPrefix(pattern, "/api/v1/cluster")
	s.router.Handle(method, pattern, s.named(pattern, func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if raw == nil {
			ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		}
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		pr, err := s.authenticate(r, !clusterStatus)
		info, _ := r.Context().Value(reqInfoKey{}).(*reqInfo)
		if info != nil {
			info.object, info.verb = lastParam(ps), ps.ByName("action")
			if pr != nil {
				info.actor, info.via = pr.User, pr.Via()
			}
		}
		if err == nil && r.Method == http.MethodGet {
			// Before the object is loaded: ?index=N must find it.
			err = s.waitForRead(r)
		}
		if err == nil {
			useKeyProject(r, pr)
			var project string
			project, err = s.authorize(r, ps, pr, p, scope, load)
			if info != nil {
				info.project = project
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(withCaller(ctx, pr))
		if raw != nil {
			if err := raw(w, r, ps); err != nil {
				s.writeError(w, r, err)
			}
			return
		}
		s.serve(w, r, ps, h)
	}))
}

// useKeyProject makes a key scoped to one project name it when the request
// names none, so its scripts need no --project.
func useKeyProject(r *http.Request, pr *authz.Principal) {
	if pr.KeyProject == "" {
		return
	}
	q := r.URL.Query()
	if q.Get(projectParam) != "" || q.Get(allProjectsParam) == "true" {
		return
	}
	q.Set(projectParam, pr.KeyProject)
	r.URL.RawQuery = q.Encode()
}

// authorize checks pr's right to p in the route's scope, and returns the
// project it checked in ("" for the cluster).
func (s *Server) authorize(r *http.Request, ps httprouter.Params, pr *authz.Principal, p perm, scope scopeKind, load *objectLoader) (string, error) {
	switch scope {
	case scopeCaller:
		return r.URL.Query().Get(projectParam), nil
	case scopeCluster:
		if !pr.Allowed("", p) {
			return "", forbidden(pr, "", p)
		}
		return "", nil
	case scopeProject:
		if r.URL.Query().Get(allProjectsParam) == "true" {
			// The handler lists only what pr may read; refused outright
			// when that is nothing, never an empty list.
			_, err := readableIn(pr, p)
			return "", err
		}
		project, err := writeProject(r)
		if err != nil {
			return "", err
		}
		if !pr.Allowed(project, p) {
			return project, forbidden(pr, project, p)
		}
		return project, nil
	}
	project, err := load.project(s, r, ps)
	if err != nil {
		return "", err
	}
	if pr.Allowed(project, p) {
		return project, nil
	}
	if !pr.Allowed(project, authz.Read(p.Resource)) {
		// Not even readable: as if it did not exist.
		return "", errorf(fsm.ErrNotFound, "%s %q not found", load.kind, lastParam(ps))
	}
	return project, forbidden(pr, project, p)
}

// readableIn returns whether pr may have perm in a project, for a list
// that spans projects: 403 when it may nowhere, rather than an empty list.
func readableIn(pr *authz.Principal, perm authz.Perm) (func(project string) bool, error) {
	projects, everywhere := pr.Projects(perm)
	if !everywhere && len(projects) == 0 {
		return nil, errorf(authz.ErrForbidden, "%s lacks %s in every project", pr.Describe(), perm)
	}
	return func(project string) bool { return everywhere || slices.Contains(projects, project) }, nil
}

// lastParam is the route parameter that names the object (the first one).
func lastParam(ps httprouter.Params) string {
	if len(ps) == 0 {
		return ""
	}
	return ps[0].Value
}
