package api

import (
	"net/http"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// can-i answers yes or no with the role that decides, for tokens and
// logins alike, and refuses a permission it cannot read.
func TestCanI_AnswersWithTheReason(t *testing.T) {
	e := newTestEnv(t)
	reader := e.tokenFor("reader")
	var ans client.CanI
	e.do("GET", "/api/v1/auth/can-i?perm=vm:write", reader, nil).expect(t, http.StatusOK, &ans)
	if ans.Allowed || ans.Reason != `role reader of key "reader-tok" lacks vm:write in project default` {
		t.Fatalf("reader vm:write: %+v", ans)
	}
	e.do("GET", "/api/v1/auth/can-i?perm=vm:read&project=default", reader, nil).expect(t, http.StatusOK, &ans)
	if !ans.Allowed || ans.Reason != `role reader of key "reader-tok" grants vm:read, and so do its user's roles` || ans.Project != "default" {
		t.Fatalf("reader vm:read in default: %+v", ans)
	}
	e.do("POST", "/api/v1/users", e.root, client.UserRequest{Name: "ops", Password: "a long password", Role: "operator"}).expect(t, http.StatusCreated, nil)
	var l client.Login
	e.login("ops", "a long password").expect(t, http.StatusCreated, &l)
	e.do("GET", "/api/v1/auth/can-i?perm=settings:write", l.Token, nil).expect(t, http.StatusOK, &ans)
	if ans.Allowed || ans.Reason != `role operator in the cluster lacks settings:write` {
		t.Fatalf("operator's login, settings:write: %+v", ans)
	}
	e.do("GET", "/api/v1/auth/can-i?perm=vm", reader, nil).expectError(t, http.StatusBadRequest, "invalid", "RESOURCE:read")
	e.do("GET", "/api/v1/auth/can-i?perm=vm:read&project=nope", reader, nil).expectError(t, http.StatusNotFound, "not_found", "nope")
}
