package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
)

// canI answers whether the request's credential has a permission
// (?perm=RESOURCE:ACTION, as "vm:write") in the request's project (?project=,
// or a project key's own), and why: `novacron auth can-i`. Without a
// project, a project resource is asked about in the default project.
func (s *Server) canI(r *http.Request, _ httprouter.Params) (any, error) {
	q := r.URL.Query()
	raw := q.Get("perm")
	p, err := authz.ParsePerm(raw)
	if err != nil || p.Resource == authz.Any || p.Action == authz.Any {
		return nil, invalidf("query parameter perm: %q is not RESOURCE:read or RESOURCE:write (such as vm:write)", raw)
	}
	pr := caller(r.Context())
	project := ""
	if authz.InProject(p.Resource) {
		if project, err = s.requestProject(r); err != nil {
			return nil, err
		}
	}
	ans := client.CanI{Perm: raw, Project: project, Role: pr.ClusterRole, Allowed: pr.Allowed(project, p)}
	if roles := pr.ProjectRoles[project]; len(roles) > 0 {
		ans.Role = roles[0]
	}
	if pr.KeyRole != "" {
		ans.Role = pr.KeyRole
	}
	if ans.Allowed {
		ans.Reason = pr.Grants(project, p)
	} else {
		ans.Reason = pr.Explain(project, p)
	}
	return ans, nil
}
