package api

import (
	"net/http"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// Text the CLI prints must not carry terminal escapes or bidi overrides: the
// API refuses them with a 400 naming the field, before anything reaches Apply.
func TestCreateVM_RefusesControlCharacters(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/vms", e.root, `{"name":"a\u001b[31mb","vcpus":1,"memory_mib":1,"disk_gib":1}`).
		expectError(t, http.StatusBadRequest, "invalid", "name")
	e.do("POST", "/api/v1/vms", e.root, `{"name":"web","vcpus":1,"memory_mib":1,"disk_gib":1,"labels":{"env":"prod\u001b[2J"}}`).
		expectError(t, http.StatusBadRequest, "invalid", `labels value of "env" holds the control or bidi character U+001B`)
	e.do("POST", "/api/v1/vms", e.root, `{"name":"web","vcpus":1,"memory_mib":1,"disk_gib":1,"labels":{"env":"\u202Eevil"}}`).
		expectError(t, http.StatusBadRequest, "invalid", `labels value of "env" holds the control or bidi character U+202E`)
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls, want none", n)
	}
	// An update is checked the same way.
	e.createVM("web")
	bad := validVM("web")
	bad.Labels = map[string]string{"note": "x\u009b31m"}
	e.do("PUT", "/api/v1/vms/web", e.root, bad).expectError(t, http.StatusBadRequest, "invalid", `labels value of "note"`)
}

func TestDrain_RefusesControlCharactersInReason(t *testing.T) {
	e := newTestEnv(t)
	before := e.cluster.applies()
	e.do("POST", "/api/v1/nodes/node-1/drain", e.root, client.DrainRequest{Reason: "upgrade\x1b[31m"}).
		expectError(t, http.StatusBadRequest, "invalid", "reason holds the control or bidi character U+001B")
	if n := e.cluster.applies() - before; n != 0 {
		t.Fatalf("%d Apply calls, want none", n)
	}
}
