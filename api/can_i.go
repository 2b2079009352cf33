package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
)

// canI answers whether the request's credential has a permission
// (?perm=RESOURCE:ACTION, as "vm:write"), and why: `novacron auth can-i`.
// ?project= names the project asked about; roles are cluster-wide until
// project roles come (issue 14), so the answer is the same in every project,
// and says so.
func (s *Server) canI(r *http.Request, _ httprouter.Params) (any, error) {
	q := r.URL.Query()
	raw := q.Get("perm")
	resource, action, ok := strings.Cut(raw, ":")
	if !ok || resource == "" || (action != "read" && action != "write") {
		return nil, invalidf("query parameter perm: %q is not RESOURCE:read or RESOURCE:write (such as vm:write)", raw)
	}
	project := ""
	if q.Get(projectParam) != "" {
		p, err := s.requestProject(r)
		if err != nil {
			return nil, err
		}
		project = p
	}
	tok, _ := caller(r.Context())
	p := authz.Perm{Resource: resource, Action: action}
	who := fmt.Sprintf("role %q", tok.Role)
	if u := sessionUser(tok); u != "" {
		who = fmt.Sprintf("user %q's role %q", u, tok.Role)
	}
	ans := client.CanI{Perm: raw, Project: project, Role: tok.Role, Allowed: authz.Allowed(tok.Role, p)}
	if ans.Allowed {
		ans.Reason = fmt.Sprintf("%s grants %s:%s", who, resource, action)
	} else {
		ans.Reason = fmt.Sprintf("%s lacks %s:%s", who, resource, action)
	}
	if project != "" {
		ans.Reason += "; roles are cluster-wide, the same in project " + project
	}
	return ans, nil
}
