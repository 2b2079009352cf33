package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
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
	e.do("POST", "/api/v1/vms", reader, validVM("web-1")).expectError(t, http.StatusForbidden, "forbidden", `role reader of key "reader-tok" lacks vm:write in project default`)
	e.do("POST", "/api/v1/tokens", reader, client.TokenRequest{Name: "x"}).expectError(t, http.StatusForbidden, "forbidden", "token")
	e.do("GET", "/api/v1/tokens", reader, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks token:read")
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

// Every write names its caller's token to the cluster, whose leader
// authorises it again against its own copy of the token (the fake cluster
// does as the leader does). A refusal there, of a write this node let
// through, reaches the client as this node's own refusal would.
func TestAuth_WritesNameTheirCallerToTheLeader(t *testing.T) {
	e := newTestEnv(t)
	op := e.tokenFor("operator")
	idOf := func(secret string) string {
		t.Helper()
		tok, err := e.fsm.TokenByHash(fsm.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID
	}
	writes := []struct {
		method, path, token string
		body                any
		status              int
	}{
		{"POST", "/api/v1/vms", op, validVM("web-1"), http.StatusCreated},
		{"PUT", "/api/v1/vms/web-1", op, validVM("web-1"), http.StatusOK},
		{"POST", "/api/v1/vms/web-1/stop", op, nil, http.StatusOK},
		{"POST", "/api/v1/nodes/node-1/drain", op, nil, http.StatusAccepted},
		{"POST", "/api/v1/nodes/node-1/undrain", op, nil, http.StatusOK},
		{"PUT", "/api/v1/settings", e.root, `{"strategy":"binpack"}`, http.StatusOK},
		{"POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci"}, http.StatusCreated},
		{"DELETE", "/api/v1/vms/web-1", op, nil, http.StatusOK},
	}
	for _, w := range writes {
		before := e.cluster.applies()
		e.do(w.method, w.path, w.token, w.body).expect(t, w.status, nil)
		if e.cluster.applies() == before {
			t.Fatalf("%s %s made no write", w.method, w.path)
		}
		if got, want := e.cluster.caller(), idOf(w.token); got != want {
			t.Errorf("%s %s: the write names caller %q, want the request's token %q", w.method, w.path, got, want)
		}
	}

	e.cluster.failApplies(authz.Errorf(authz.ErrForbidden, `role "operator" may not apply CreateVM: it needs permission to write vm`))
	e.do("POST", "/api/v1/vms", op, validVM("web-2")).expectError(t, http.StatusForbidden, "forbidden", `may not apply CreateVM`)
	e.cluster.failApplies(authz.Errorf(authz.ErrUnauthenticated, "unknown or revoked token"))
	a := e.do("POST", "/api/v1/vms", op, validVM("web-3"))
	a.expectError(t, http.StatusUnauthorized, "unauthenticated", "revoked")
	if a.header.Get("WWW-Authenticate") == "" {
		t.Error("the leader's 401 came without WWW-Authenticate")
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
