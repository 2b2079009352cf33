package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// A VM, a node or a migration may be named by the start of its ID, as git
// and docker allow; an ambiguous start names the matches; a start shorter
// than 4 characters is no prefix.
func TestIDPrefix_FindsOneAndNamesTheAmbiguous(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now().UTC()
	for id, name := range map[string]string{
		"aaaa1111-0000-0000-0000-000000000000": "web-1",
		"aaaa2222-0000-0000-0000-000000000000": "web-2",
		"bbbb3333-0000-0000-0000-000000000000": "db",
	} {
		e.cluster.mustApply(t, fsm.CreateVM{ID: id, Spec: fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: now})
	}
	var vm client.VM
	for ref, want := range map[string]string{"bbbb": "db", "aaaa1": "web-1", "aaaa2222-0000": "web-2"} {
		vm = client.VM{}
		e.do("GET", "/api/v1/vms/"+ref, e.root, nil).expect(t, http.StatusOK, &vm)
		if vm.Name != want {
			t.Errorf("GET /vms/%s = %q, want %q", ref, vm.Name, want)
		}
	}
	a := e.do("GET", "/api/v1/vms/aaaa", e.root, nil)
	a.expectError(t, http.StatusBadRequest, "invalid", "ambiguous")
	for _, want := range []string{"aaaa1111-0000-0000-0000-000000000000 (web-1)", "aaaa2222-0000-0000-0000-000000000000 (web-2)"} {
		if !strings.Contains(string(a.body), want) {
			t.Errorf("ambiguous answer %s does not list %s", a.body, want)
		}
	}
	e.do("GET", "/api/v1/vms/bbb", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "bbb")
	e.do("GET", "/api/v1/vms/cccc", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "cccc")
	// An action takes the prefix too.
	e.do("POST", "/api/v1/vms/bbbb/stop", e.root, nil).expect(t, http.StatusOK, &vm)
	if vm.Name != "db" || vm.DesiredState != "stopped" {
		t.Errorf("stop by prefix: %+v", vm)
	}

	var n client.Node
	e.do("GET", "/api/v1/nodes/"+e.nodes[1].ID[:8], e.root, nil).expect(t, http.StatusOK, &n)
	if n.Name != "node-2" {
		t.Errorf("node by prefix = %q", n.Name)
	}
}

// A token is named by its ID, its name (unique: a second live token of a
// name is refused), or the start of its ID.
func TestTokens_ByNameOrIDPrefix(t *testing.T) {
	e := newTestEnv(t)
	var ci, bot client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci", Role: "reader"}).expect(t, http.StatusCreated, &ci)
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "bot", Role: "reader"}).expect(t, http.StatusCreated, &bot)
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "bot", Role: "reader"}).expectError(t, http.StatusConflict, "conflict", bot.ID)
	var got client.Token
	for _, ref := range []string{"ci", ci.ID, ci.ID[:8]} {
		got = client.Token{}
		e.do("GET", "/api/v1/tokens/"+ref, e.root, nil).expect(t, http.StatusOK, &got)
		if got.ID != ci.ID {
			t.Errorf("GET /tokens/%s = %s, want %s", ref, got.ID, ci.ID)
		}
	}
	e.do("DELETE", "/api/v1/tokens/ci", e.root, nil).expect(t, http.StatusOK, nil)
	// Once revoked, its name is free again.
	e.do("DELETE", "/api/v1/tokens/bot", e.root, nil).expect(t, http.StatusOK, nil)
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "bot", Role: "reader"}).expect(t, http.StatusCreated, nil)
}

// An expired token's name goes to the next token that asks for it.
func TestTokens_AnExpiredTokenGivesUpItsName(t *testing.T) {
	e := newTestEnv(t)
	old := fsm.Token{ID: ids.New(), Name: "nightly", Role: "reader", Hash: fsm.HashSecret("nvc_old"),
		CreatedAt: time.Now().Add(-2 * time.Hour).UTC(), ExpiresAt: time.Now().Add(-time.Hour).UTC()}
	e.cluster.mustApply(t, fsm.CreateToken{Token: old})
	var tok client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "nightly", Role: "reader"}).expect(t, http.StatusCreated, &tok)
	e.do("GET", "/api/v1/tokens/nightly", e.root, nil).expect(t, http.StatusOK, &tok)
	if tok.ID == old.ID {
		t.Fatal("the name still names the expired token")
	}
}
