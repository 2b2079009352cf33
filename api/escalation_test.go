package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// auditHas waits until the audit log holds an entry that match accepts.
func (e *testEnv) auditHas(what string, match func(fsm.AuditEntry) bool) fsm.AuditEntry {
	e.t.Helper()
	var found fsm.AuditEntry
	testutil.WaitFor(e.t, 10*time.Second, "the audit log records "+what, func() bool {
		for _, a := range e.fsm.Audit(fsm.AuditQuery{Max: 10000}) {
			if match(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// Escalation (issue 14): a key stronger than its user, an operator binding
// roles or moving a VM to another project, a project admin touching cluster
// settings or its own quota, a user changing its own role: each is refused,
// the state is unchanged, and the refusal is on record with its actor.
func TestTenants_EscalationIsRefusedAndAudited(t *testing.T) {
	w := newTenantWorld(t, Config{AuditQueue: 1000})
	op, admin := w.sessions["u-operator"], w.sessions["u-project-admin"]
	applies := w.cluster.applies()
	cases := []struct {
		what, user, method, path string
		body                     any
		status                   int
		msg                      string
	}{
		{"a key stronger than its user", "u-operator", "POST", "/api/v1/tokens", client.TokenRequest{Name: "strong", Role: "project-admin", Project: "a"}, 403, "a key may not be stronger than its user"},
		{"a cluster key for a project user", "u-operator", "POST", "/api/v1/tokens", client.TokenRequest{Name: "wide", Role: "viewer"}, 403, "has no role in the cluster"},
		{"an operator binding a role", "u-operator", "POST", "/api/v1/projects/a/members", client.ProjectMember{User: "u-viewer", Role: "operator"}, 403, "role operator in project a lacks member:write"},
		{"an operator moving a VM to another project", "u-operator", "PUT", "/api/v1/vms/" + w.vmA.ID, `{"name":"web","vcpus":2,"memory_mib":1024,"disk_gib":10,"project":"b"}`, 400, "project"},
		{"a project admin making a cluster admin", "u-project-admin", "POST", "/api/v1/projects/a/members", client.ProjectMember{User: "u-viewer", Role: "cluster-admin"}, 403, "role cluster-admin grants"},
		{"a project admin touching cluster settings", "u-project-admin", "PUT", "/api/v1/settings", map[string]any{"strategy": "binpack"}, 403, "lacks settings:write"},
		{"a project admin raising its own quota", "u-project-admin", "PUT", "/api/v1/projects/a", client.ProjectRequest{Name: "a"}, 403, "lacks project:write"},
		{"a user changing its own role", "u-viewer", "PUT", "/api/v1/users/u-viewer", client.UserRequest{Role: "cluster-admin"}, 403, "lacks user:write"},
		{"a user named as the built-in root", "u-project-admin", "POST", "/api/v1/users", client.UserRequest{Name: "root", Password: "a long password"}, 403, "lacks user:write"},
		{"a custom role granting everything", "u-project-admin", "POST", "/api/v1/roles", client.RoleRequest{Name: "all", Permissions: []string{"*:*"}}, 403, "lacks role:write"},
	}
	for _, c := range cases {
		a := w.do(c.method, c.path, w.sessions[c.user], c.body)
		if a.status != c.status || !strings.Contains(string(a.body), c.msg) {
			t.Errorf("%s: %d %s, want %d naming %q", c.what, a.status, a.body, c.status, c.msg)
		}
	}
	for _, c := range cases {
		if c.status != 403 {
			continue
		}
		w.auditHas(c.what, func(e fsm.AuditEntry) bool {
			return e.Actor == c.user && e.Status == 403 && e.Action == c.method+" "+routeOf(w.server, c.method, c.path)
		})
	}
	// Nothing but the audit entries was written.
	if n := w.cluster.applies() - applies; n > len(cases) {
		t.Errorf("%d writes for %d refused requests: more than their audit batches", n, len(cases))
	}
	// Not even a cluster admin makes a user who would log in as root.
	w.do("POST", "/api/v1/users", w.root, client.UserRequest{Name: "root", Password: "a long password"}).expectError(t, http.StatusConflict, "conflict", `user "root" already exists`)
	vm, err := w.fsm.VM(w.vmA.ID)
	if err != nil || vm.Project != "a" {
		t.Fatalf("the VM moved: %+v %v", vm, err)
	}
	// And what each may do, it does: the refusals are not blanket ones.
	w.do("POST", "/api/v1/projects/a/members", admin, client.ProjectMember{User: "u-viewer", Role: "operator"}).expect(t, http.StatusOK, nil)
	var key client.Token
	w.do("POST", "/api/v1/tokens", op, client.TokenRequest{Name: "ci", Role: "viewer", Project: "a"}).expect(t, http.StatusCreated, &key)
	w.do("GET", "/api/v1/vms", key.Secret, nil).expect(t, http.StatusOK, nil) // the key's project by default
	w.do("POST", "/api/v1/vms/web/stop", key.Secret, nil).expectError(t, http.StatusForbidden, "forbidden", `role viewer of key "ci", scoped to project a, lacks vm:write in project a`)
	e := w.auditHas("the binding", func(e fsm.AuditEntry) bool {
		return e.Actor == "u-project-admin" && e.Status == 200 && e.Project == "a" && e.Action == "POST /api/v1/projects/:name/members"
	})
	if e.Index == 0 || e.Via != "session" || e.Object != "a" || e.Node != "node-1" {
		t.Errorf("the binding's entry: %+v", e)
	}
}

// routeOf is the pattern the server routes method and path to.
func routeOf(s *Server, method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	h, ps, _ := s.router.Lookup(method, path)
	if h == nil {
		return ""
	}
	for _, r := range s.secured {
		if r.method != method {
			continue
		}
		p := r.pattern
		for _, param := range ps {
			p = strings.Replace(p, ":"+param.Key, param.Value, 1)
		}
		if p == path {
			return r.pattern
		}
	}
	return ""
}

// Brute force (issue 14): 50 wrong passwords from one address end in 429
// and a lockout, during which the right password is refused too; the
// lockout is on record.
func TestLogin_BruteForceLocksOutAndIsAudited(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", AuditQueue: 1000}, nil)
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "victim", Password: "the right password", Role: "viewer"}).expect(t, http.StatusCreated, nil)
	var limited int
	for i := 0; i < 50; i++ {
		a := e.login("victim", "wrong guess")
		switch a.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
			if a.header.Get("Retry-After") == "" {
				t.Fatalf("a 429 without Retry-After: %s", a.body)
			}
		default:
			t.Fatalf("wrong password %d: %d %s", i, a.status, a.body)
		}
	}
	if limited == 0 {
		t.Fatal("50 wrong passwords were never throttled")
	}
	e.login("victim", "the right password").expectError(t, http.StatusTooManyRequests, "too_many_requests", "too many failed logins")
	e.auditHas("the lockout", func(a fsm.AuditEntry) bool {
		return a.Action == "login lockout" && a.Object == "victim" && strings.Contains(a.Message, "locked out")
	})
	e.auditHas("a refused login", func(a fsm.AuditEntry) bool {
		return a.Action == "POST /api/v1/login" && a.Status == http.StatusTooManyRequests && a.Object == "victim"
	})
}

// GET /api/v1/audit: a cluster admin sees every entry, a project admin
// those of its projects, anyone else is refused with the reason; filters
// and paging hold.
func TestAudit_ReadersSeeWhatTheyMay(t *testing.T) {
	w := newTenantWorld(t, Config{AuditQueue: 1000})
	w.do("POST", "/api/v1/vms/web/stop?project=a", w.sessions["u-operator"], nil).expect(t, http.StatusOK, nil)
	w.do("POST", "/api/v1/vms/only-b/stop?project=b", w.sessions["u-b"], nil).expect(t, http.StatusOK, nil)
	w.auditHas("both stops", func(e fsm.AuditEntry) bool { return e.Actor == "u-b" })
	w.auditHas("both stops", func(e fsm.AuditEntry) bool { return e.Actor == "u-operator" })
	var all, mine []client.AuditEntry
	w.do("GET", "/api/v1/audit?action=stop", w.root, nil).expect(t, http.StatusOK, &all)
	if len(all) < 2 {
		t.Fatalf("root sees %d entries", len(all))
	}
	w.do("GET", "/api/v1/audit", w.sessions["u-project-admin"], nil).expect(t, http.StatusOK, &mine)
	for _, e := range mine {
		if e.Project != "a" {
			t.Errorf("a's project admin sees %+v", e)
		}
	}
	if len(mine) == 0 {
		t.Error("a's project admin sees nothing of a")
	}
	w.do("GET", "/api/v1/audit", w.sessions["u-operator"], nil).expectError(t, http.StatusForbidden, "forbidden", "lacks audit:read")
	var page []client.AuditEntry
	w.do("GET", "/api/v1/audit?limit=1", w.root, nil).expect(t, http.StatusOK, &page)
	var next []client.AuditEntry
	w.do("GET", "/api/v1/audit?limit=1&before="+strconv.FormatUint(page[0].Seq, 10), w.root, nil).expect(t, http.StatusOK, &next)
	if len(page) != 1 || len(next) != 1 || next[0].Seq >= page[0].Seq {
		t.Fatalf("paging: %+v then %+v", page, next)
	}
	w.do("GET", "/api/v1/audit?since=yesterday", w.root, nil).expectError(t, http.StatusBadRequest, "invalid", "since")
	w.do("GET", "/api/v1/audit?limit=5000", w.root, nil).expectError(t, http.StatusBadRequest, "invalid", "limit")
}
