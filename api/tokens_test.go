package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

func TestCreateToken_SecretShownOnce(t *testing.T) {
	e := newTestEnv(t)
	var tok client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci"}).expect(t, http.StatusCreated, &tok)
	if tok.ID == "" || tok.Name != "ci" || tok.Role != authz.DefaultRole || tok.ExpiresAt != nil || tok.CreatedAt.IsZero() {
		t.Fatalf("created token = %+v", tok)
	}
	if !strings.HasPrefix(tok.Secret, "nvc_") || len(tok.Secret) != len("nvc_")+48 {
		t.Fatalf("secret %q, want nvc_ and 48 hex digits", tok.Secret)
	}
	stored, err := e.fsm.Token(tok.ID)
	if err != nil || stored.Hash != fsm.HashSecret(tok.Secret) {
		t.Fatalf("stored token %+v (%v): hash does not match the secret", stored, err)
	}

	list := e.do("GET", "/api/v1/tokens", e.root, nil).expect(t, http.StatusOK, nil)
	one := e.do("GET", "/api/v1/tokens/"+tok.ID, e.root, nil).expect(t, http.StatusOK, nil)
	for _, a := range []answer{list, one} {
		body := string(a.body)
		if strings.Contains(body, tok.Secret) || strings.Contains(body, stored.Hash) || strings.Contains(body, `"secret"`) || strings.Contains(body, `"hash"`) {
			t.Fatalf("token read shows a secret or hash: %s", body)
		}
	}
	var toks []client.Token
	list.expect(t, http.StatusOK, &toks)
	if len(toks) != 2 || toks[1].ID != tok.ID {
		t.Fatalf("token list = %+v, want root then ci", toks)
	}
	// The secret works.
	e.do("GET", "/api/v1/vms", tok.Secret, nil).expect(t, http.StatusOK, nil)
}

// A token created without a role gets the weakest one (issue 11): it reads,
// but writes nothing and cannot mint tokens. An explicit role still holds.
func TestCreateToken_DefaultRoleIsReader(t *testing.T) {
	e := newTestEnv(t)
	if authz.DefaultRole != "viewer" {
		t.Fatalf("DefaultRole = %q, want viewer", authz.DefaultRole)
	}
	var ro client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "norole"}).expect(t, http.StatusCreated, &ro)
	if ro.Role != "viewer" {
		t.Fatalf("token without a role = %+v, want role viewer", ro)
	}
	if stored, err := e.fsm.Token(ro.ID); err != nil || stored.Role != "viewer" {
		t.Fatalf("stored token %+v (%v), want role viewer", stored, err)
	}
	e.do("GET", "/api/v1/vms", ro.Secret, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/vms", ro.Secret, validVM("x")).expectError(t, http.StatusForbidden, "forbidden", "role viewer")
	e.do("POST", "/api/v1/tokens", ro.Secret, client.TokenRequest{Name: "escalate", Role: "admin"}).expectError(t, http.StatusForbidden, "forbidden", "role viewer")

	var admin client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "adm", Role: "admin"}).expect(t, http.StatusCreated, &admin)
	if admin.Role != "admin" {
		t.Fatalf("explicit admin token = %+v", admin)
	}
	e.do("GET", "/api/v1/tokens", admin.Secret, nil).expect(t, http.StatusOK, nil)
}

func TestCreateToken_RoleAndTTL(t *testing.T) {
	e := newTestEnv(t)
	var tok client.Token
	before := time.Now()
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ro", Role: "reader", TTL: "24h"}).expect(t, http.StatusCreated, &tok)
	if tok.Role != "reader" || tok.ExpiresAt == nil {
		t.Fatalf("token = %+v", tok)
	}
	if d := tok.ExpiresAt.Sub(before); d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Fatalf("expires in %s, want 24h", d)
	}
	e.do("POST", "/api/v1/vms", tok.Secret, validVM("x")).expectError(t, http.StatusForbidden, "forbidden", "reader")
}

func TestCreateToken_BadInputNeverReachesApply(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		body      any
		code, msg string
	}{
		{client.TokenRequest{Name: "x", Role: "root"}, "invalid", `role "root" is not a role`},
		{client.TokenRequest{Name: "x", TTL: "soon"}, "invalid", `ttl "soon"`},
		{client.TokenRequest{Name: "x", TTL: "-1h"}, "invalid", "positive duration"},
		{client.TokenRequest{}, "invalid", "name is required"},
		{`{"name":"x","admin":true}`, "bad_json", `unknown field "admin"`},
	}
	for _, c := range cases {
		e.do("POST", "/api/v1/tokens", e.root, c.body).expectError(t, http.StatusBadRequest, c.code, c.msg)
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from bad token requests", n)
	}
}

func TestGetToken_Self(t *testing.T) {
	e := newTestEnv(t)
	reader := e.tokenFor("reader")
	var self client.Token
	e.do("GET", "/api/v1/tokens/self", reader, nil).expect(t, http.StatusOK, &self)
	if self.Name != "reader-tok" || self.Role != "reader" || self.Secret != "" {
		t.Fatalf("self = %+v", self)
	}
	// Only "self" is exempt: another token stays forbidden to a reader.
	e.do("GET", "/api/v1/tokens/"+self.ID, reader, nil).expectError(t, http.StatusForbidden, "forbidden", "token")
	e.do("GET", "/api/v1/tokens/self", "", nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "")
	var root client.Token
	e.do("GET", "/api/v1/tokens/self", e.root, nil).expect(t, http.StatusOK, &root)
	if root.Name != "root" || root.Role != "admin" {
		t.Fatalf("root self = %+v", root)
	}
}

func TestRevokeToken_AnswersWithTheToken(t *testing.T) {
	e := newTestEnv(t)
	var tok, revoked client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci"}).expect(t, http.StatusCreated, &tok)
	e.do("DELETE", "/api/v1/tokens/"+tok.ID, e.root, nil).expect(t, http.StatusOK, &revoked)
	if revoked.ID != tok.ID || revoked.Name != "ci" || revoked.Secret != "" {
		t.Fatalf("revoked = %+v", revoked)
	}
	e.do("GET", "/api/v1/tokens/"+tok.ID, e.root, nil).expectError(t, http.StatusNotFound, "not_found", tok.ID)
	e.do("DELETE", "/api/v1/tokens/"+tok.ID, e.root, nil).expectError(t, http.StatusNotFound, "not_found", tok.ID)
}
