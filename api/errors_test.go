package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

func TestClassify_Table(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fsm.ErrorFromCode("not_found", "vm \"x\" not found"), 404, "not_found"},
		{fsm.ErrorFromCode("conflict", "taken"), 409, "conflict"},
		{fsm.ErrorFromCode("invalid", "bad"), 400, "invalid"},
		{fsm.ErrorFromCode("invalid_state", "running"), 409, "invalid_state"},
		{fsm.ErrorFromCode("stale_generation", "old"), 409, "stale_generation"},
		{fsm.ErrMalformed, 400, "malformed_command"},
		{fsm.ErrorFromCode("upgrade_required", "CreateVM with spec.x needs every node at version >= 0.2.0"), 409, "upgrade_required"},
		{fmt.Errorf("forward: %w", cluster.ErrNoLeader), 503, "no_leader"},
		{cluster.ErrNotReady, 503, "not_ready"},
		{cluster.ErrShutdown, 503, "shutting_down"},
		{fmt.Errorf("apply: %w", context.DeadlineExceeded), 504, "timeout"},
		{errorf(errIndexTimeout, "late"), 504, "index_timeout"},
		{errorf(errBodyTooLarge, "big"), 413, "body_too_large"},
		{errorf(errBadJSON, "bad"), 400, "bad_json"},
		{errorf(errUnsupportedMediaType, "xml"), 415, "unsupported_media_type"},
		{authz.ErrUnauthenticated, 401, "unauthenticated"},
		{authz.ErrForbidden, 403, "forbidden"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, c := range cases {
		status, code, _ := classify(c.err)
		if status != c.status || code != c.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", c.err, status, code, c.status, c.code)
		}
	}
}

func TestErrors_ClusterErrorsAndInternalsMapped(t *testing.T) {
	e := newTestEnv(t)
	e.cluster.failApplies(fmt.Errorf("forwarding to leader: %w", cluster.ErrNoLeader))
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expectError(t, http.StatusServiceUnavailable, "no_leader", "no cluster leader")
	e.cluster.failApplies(errors.New("bolt: database file /secret/path is corrupt"))
	d := e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expectError(t, http.StatusInternalServerError, "internal", "internal error")
	if d.Message != "internal error" {
		t.Fatalf("internal error leaked its cause: %q", d.Message)
	}
}

func TestRouter_UnknownRouteAndMethodAreJSON(t *testing.T) {
	e := newTestEnv(t)
	e.do("GET", "/api/v1/nothing", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "no such API route")
	e.do("GET", "/nothing", "", nil).expectError(t, http.StatusNotFound, "not_found", "")
	a := e.do("PATCH", "/api/v1/vms/x", e.root, nil)
	a.expectError(t, http.StatusMethodNotAllowed, "method_not_allowed", "")
	if allow := a.header.Get("Allow"); allow == "" {
		t.Fatal("405 without an Allow header")
	}
}
