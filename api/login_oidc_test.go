package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/oidcauth"
	"github.com/novacron/novacron/internal/oidctest"
)

// OIDC logins against a real provider in the test process (mockoidc): a
// group claim maps to the role its group is bound to in a project; a token
// for another audience, an expired one or a forged one is refused.
func TestLoginOIDC_GroupsMapToProjectRoles(t *testing.T) {
	idp := oidctest.Start(t)
	verifier := oidcauth.New(oidcauth.Config{Issuer: idp.Issuer(), ClientID: idp.Config().ClientID})
	w := newTenantWorld(t, Config{OIDC: verifier})
	w.cluster.mustApply(t, fsm.SetMember{Project: "a", Group: "devs", Role: "operator"})

	var conf client.OIDCConfig
	w.do("GET", "/api/v1/auth/oidc", "", nil).expect(t, http.StatusOK, &conf)
	if conf.Issuer != idp.Issuer() || conf.ClientID != idp.Config().ClientID {
		t.Fatalf("GET /api/v1/auth/oidc = %+v", conf)
	}
	var l client.Login
	w.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: idp.IDToken(t, oidctest.User("jane", "devs", "other"))}).expect(t, http.StatusCreated, &l)
	if l.User != "oidc:jane" || l.Token == "" {
		t.Fatalf("login answered %+v", l)
	}
	w.do("POST", "/api/v1/vms?project=a", l.Token, validVM("janes")).expect(t, http.StatusCreated, nil)
	w.do("GET", "/api/v1/vms?project=b", l.Token, nil).expectError(t, http.StatusForbidden, "forbidden", "user oidc:jane has no role in project b")
	w.do("GET", "/api/v1/nodes", l.Token, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks node:read")
	var who client.Whoami
	w.do("GET", "/api/v1/whoami", l.Token, nil).expect(t, http.StatusOK, &who)
	if who.User != "oidc:jane" || who.Kind != "session" || len(who.Projects["a"]) != 1 || who.Projects["a"][0] != "operator" || who.Role != "" {
		t.Fatalf("whoami = %+v", who)
	}
	// Keys belong to the cluster's own users.
	w.do("POST", "/api/v1/tokens", l.Token, client.TokenRequest{Name: "ci", Project: "a"}).expectError(t, http.StatusForbidden, "forbidden", "logged in through OIDC")
	// A user outside every bound group logs in and may do nothing.
	w.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: idp.IDToken(t, oidctest.User("joe", "sales"))}).expect(t, http.StatusCreated, &l)
	w.do("GET", "/api/v1/vms?project=a", l.Token, nil).expectError(t, http.StatusForbidden, "forbidden", "oidc:joe has no role in project a")

	// Refused: another audience, an expired token, a forged one.
	other := newTestEnvWith(t, Config{NodeName: "node-1", OIDC: oidcauth.New(oidcauth.Config{Issuer: idp.Issuer(), ClientID: "another-client"})}, nil)
	other.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: idp.IDToken(t, oidctest.User("jane", "devs"))}).
		expectError(t, http.StatusUnauthorized, "unauthenticated", "audience")
	idp.FastForward(-time.Hour)
	expired := idp.IDToken(t, oidctest.User("jane", "devs"))
	idp.FastForward(time.Hour)
	w.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: expired}).expectError(t, http.StatusUnauthorized, "unauthenticated", "expired")
	w.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}).expectError(t, http.StatusUnauthorized, "unauthenticated", "invalid OIDC identity token")
	w.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{}).expectError(t, http.StatusBadRequest, "invalid", "id_token")
	// Without a provider the routes say so.
	e := newTestEnv(t)
	e.do("GET", "/api/v1/auth/oidc", "", nil).expectError(t, http.StatusNotFound, "not_found", "no OIDC provider")
	e.do("POST", "/api/v1/login/oidc", "", client.OIDCLoginRequest{IDToken: "x"}).expectError(t, http.StatusNotFound, "not_found", "no OIDC provider")
}
