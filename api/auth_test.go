package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// concrete turns a route pattern into a path by filling its parameters.
func concrete(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

func TestAuth_EveryRouteNeedsToken(t *testing.T) {
	e := newTestEnv(t)
	if len(e.server.secured) < 12 {
		t.Fatalf("only %d secured routes registered", len(e.server.secured))
	}
	for _, r := range e.server.secured {
		if !strings.HasPrefix(r.pattern, "/api/v1/") {
			t.Errorf("secured route %s outside /api/v1", r.pattern)
		}
		a := e.do(r.method, concrete(r.pattern), "", nil)
		a.expectError(t, http.StatusUnauthorized, "unauthenticated", "Authorization")
		if a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", r.method, r.pattern)
		}
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from unauthenticated requests", n)
	}
}

func TestAuth_BadCredentialsRefused(t *testing.T) {
	e := newTestEnv(t)
	for _, h := range []string{"Basic " + e.root, "Bearer", "Bearer ", e.root, "Bearer nvc_unknown"} {
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/vms", nil)
		req.Header.Set("Authorization", h)
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", h, resp.StatusCode)
		}
	}
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
	// The scheme is case-insensitive (RFC 9110).
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/vms", nil)
	req.Header.Set("Authorization", "bearer "+e.root)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lower-case bearer: status %d", resp.StatusCode)
	}
}

func TestAuth_RevokedTokenRefused(t *testing.T) {
	e := newTestEnv(t)
	var tok client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci"}).expect(t, http.StatusCreated, &tok)
	e.do("GET", "/api/v1/vms", tok.Secret, nil).expect(t, http.StatusOK, nil)
	e.do("DELETE", "/api/v1/tokens/"+tok.ID, e.root, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms", tok.Secret, nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "revoked")
}

func TestAuth_ExpiredTokenRefused(t *testing.T) {
	e := newTestEnv(t)
	secret := ids.Secret("nvc_", 24)
	now := time.Now().UTC()
	e.cluster.mustApply(t, fsm.CreateToken{Token: fsm.Token{ID: ids.New(), Name: "old", Role: "admin",
		Hash: fsm.HashSecret(secret), CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}})
	e.do("GET", "/api/v1/vms", secret, nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "expired")
}

func TestAuth_ReaderCannotWrite(t *testing.T) {
	e := newTestEnv(t)
	reader := e.tokenFor("reader")
	e.do("GET", "/api/v1/vms", reader, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/nodes", reader, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/cluster", reader, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/vms", reader, validVM("web-1")).expectError(t, http.StatusForbidden, "forbidden", `role "reader" may not write vm`)
	e.do("POST", "/api/v1/tokens", reader, client.TokenRequest{Name: "x"}).expectError(t, http.StatusForbidden, "forbidden", "token")
	e.do("GET", "/api/v1/tokens", reader, nil).expectError(t, http.StatusForbidden, "forbidden", "read token")
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from forbidden requests", n)
	}
}

func TestAuth_OperatorCannotManageTokens(t *testing.T) {
	e := newTestEnv(t)
	op := e.tokenFor("operator")
	vm := client.VM{}
	e.do("POST", "/api/v1/vms", op, validVM("web-1")).expect(t, http.StatusCreated, &vm)
	e.do("POST", "/api/v1/vms/web-1/stop", op, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/tokens", op, nil).expectError(t, http.StatusForbidden, "forbidden", "token")
	e.do("POST", "/api/v1/tokens", op, client.TokenRequest{Name: "x"}).expectError(t, http.StatusForbidden, "forbidden", "token")
	e.do("DELETE", "/api/v1/tokens/x", op, nil).expectError(t, http.StatusForbidden, "forbidden", "token")
	if n := e.cluster.applies(); n != 2 {
		t.Fatalf("%d Apply calls, want 2 (create and stop)", n)
	}
}

func TestAuth_PublicRoutesNeedNoToken(t *testing.T) {
	e := newTestEnv(t)
	var h client.Health
	e.do("GET", "/healthz", "", nil).expect(t, http.StatusOK, &h)
	if h.Status != "ok" || h.Node != "node-1" || h.Leader != "node-1" || h.AppliedIndex != e.fsm.AppliedIndex() {
		t.Fatalf("healthz = %+v", h)
	}
	e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK, nil)
}

func TestRoles_Table(t *testing.T) {
	if got, want := Roles(), []string{"admin", "operator", "reader"}; !slices.Equal(got, want) {
		t.Fatalf("Roles() = %v, want %v", got, want)
	}
	if ValidRole("root") || !ValidRole("reader") {
		t.Fatal("ValidRole disagrees with the table")
	}
	cases := []struct {
		role string
		p    perm
		want bool
	}{
		{"admin", perm{"token", "write"}, true},
		{"admin", perm{"vm", "write"}, true},
		{"operator", perm{"vm", "write"}, true},
		{"operator", perm{"node", "write"}, true},
		{"operator", perm{"cluster", "write"}, false},
		{"operator", perm{"token", "read"}, false},
		{"reader", perm{"vm", "read"}, true},
		{"reader", perm{"vm", "write"}, false},
		{"reader", perm{"node", "write"}, false},
		{"reader", perm{"migration", "read"}, true},
		{"reader", perm{"migration", "write"}, false},
		{"reader", perm{"settings", "read"}, true},
		{"operator", perm{"migration", "write"}, true},
		{"operator", perm{"settings", "read"}, true},
		{"operator", perm{"settings", "write"}, false},
		{"admin", perm{"settings", "write"}, true},
		{"nobody", perm{"vm", "read"}, false},
	}
	for _, c := range cases {
		if got := allowed(c.role, c.p); got != c.want {
			t.Errorf("allowed(%s, %v) = %v, want %v", c.role, c.p, got, c.want)
		}
	}
}

func TestAuth_NodeCatchingUpSaysRetryNotWrongToken(t *testing.T) {
	e := newTestEnv(t)
	e.cluster.mu.Lock()
	e.cluster.behind = true
	e.cluster.mu.Unlock()
	// A token this node has not seen yet may exist: 503, so clients retry.
	e.do("GET", "/api/v1/vms", "nvc_not_applied_here_yet", nil).expect(t, http.StatusServiceUnavailable, nil)
	// A token it knows works as ever.
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
	e.cluster.mu.Lock()
	e.cluster.behind = false
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/vms", "nvc_not_applied_here_yet", nil).expect(t, http.StatusUnauthorized, nil)
}
