package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// login posts a login and returns the answer.
func (e *testEnv) login(user, pw string) answer {
	return e.do("POST", "/api/v1/login", "", client.LoginRequest{User: user, Password: pw})
}

// A user made by an admin logs in with its password, gets a session token
// that works as its role allows, and logs out: the token is refused after.
func TestLogin_SessionActsAsTheUsersRole(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "alice", Password: "short"}).expectError(t, http.StatusBadRequest, "invalid", "password")
	var u client.User
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "alice", Password: "correct horse", Role: "operator"}).expect(t, http.StatusCreated, &u)
	if u.Name != "alice" || u.Role != "operator" {
		t.Fatalf("created %+v", u)
	}
	if body := string(e.do("GET", "/api/v1/users/alice", e.root, nil).body); strings.Contains(body, "argon2") || strings.Contains(body, "hash") {
		t.Fatalf("the user's answer shows its hash: %s", body)
	}

	e.login("alice", "wrong horse").expectError(t, http.StatusUnauthorized, "unauthenticated", "wrong user name or password")
	e.login("nobody", "correct horse").expectError(t, http.StatusUnauthorized, "unauthenticated", "wrong user name or password")
	var l client.Login
	e.login("alice", "correct horse").expect(t, http.StatusCreated, &l)
	if !strings.HasPrefix(l.Token, "nvs_") || l.User != "alice" || l.Role != "operator" || l.ExpiresAt.IsZero() {
		t.Fatalf("login answered %+v", l)
	}
	e.do("POST", "/api/v1/vms", l.Token, validVM("web-1")).expect(t, http.StatusCreated, nil)
	// A user makes its own keys, never stronger than itself.
	e.do("POST", "/api/v1/tokens", l.Token, client.TokenRequest{Name: "x", Role: "admin"}).expectError(t, http.StatusForbidden, "forbidden", "role operator in the cluster lacks")
	var key client.Token
	e.do("POST", "/api/v1/tokens", l.Token, client.TokenRequest{Name: "x", Role: "viewer"}).expect(t, http.StatusCreated, &key)
	if key.User != "alice" || key.Role != "viewer" {
		t.Fatalf("alice's key: %+v", key)
	}
	e.do("GET", "/api/v1/users", l.Token, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks user:read")

	var ses []client.Session
	e.do("GET", "/api/v1/sessions", l.Token, nil).expect(t, http.StatusOK, &ses)
	if len(ses) != 1 || !ses[0].Current || ses[0].User != "alice" {
		t.Fatalf("alice's sessions: %+v", ses)
	}
	e.do("POST", "/api/v1/logout", l.Token, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms", l.Token, nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "log in again")
	e.do("POST", "/api/v1/logout", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "API key")
}

// A new password or a disabled user ends the user's sessions; a disabled
// user cannot log in.
func TestLogin_PasswordChangeAndDisableEndSessions(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "bob", Password: "first password", Role: "viewer"}).expect(t, http.StatusCreated, nil)
	var l client.Login
	e.login("bob", "first password").expect(t, http.StatusCreated, &l)
	e.do("GET", "/api/v1/vms", l.Token, nil).expect(t, http.StatusOK, nil)
	e.do("PUT", "/api/v1/users/bob", e.root, client.UserRequest{Password: "second password"}).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms", l.Token, nil).expect(t, http.StatusUnauthorized, nil)
	e.login("bob", "first password").expect(t, http.StatusUnauthorized, nil)
	e.login("bob", "second password").expect(t, http.StatusCreated, &l)
	off := true
	e.do("PUT", "/api/v1/users/bob", e.root, client.UserRequest{Disabled: &off}).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms", l.Token, nil).expect(t, http.StatusUnauthorized, nil)
	e.login("bob", "second password").expectError(t, http.StatusUnauthorized, "unauthenticated", "wrong user name or password")
	e.do("PUT", "/api/v1/users/bob", e.root, client.UserRequest{Role: "king"}).expectError(t, http.StatusBadRequest, "invalid", "king")
	e.do("DELETE", "/api/v1/users/bob", e.root, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/users/bob", e.root, nil).expect(t, http.StatusNotFound, nil)
}

// 50 wrong passwords from one address lock its logins out: 429 with
// Retry-After, and the right password is refused while the lock holds.
func TestLogin_BruteForceIsLockedOut(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "carol", Password: "the right one"}).expect(t, http.StatusCreated, nil)
	var limited int
	for i := range 50 {
		a := e.login("carol", fmt.Sprintf("guess %d", i))
		switch a.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
			if a.header.Get("Retry-After") == "" {
				t.Fatalf("a 429 without Retry-After: %s", a.body)
			}
		default:
			t.Fatalf("guess %d: status %d, %s", i, a.status, a.body)
		}
	}
	if limited < 40 {
		t.Fatalf("only %d of 50 guesses were held back", limited)
	}
	a := e.login("carol", "the right one")
	a.expectError(t, http.StatusTooManyRequests, "too_many_requests", "too many failed logins")
}
