package api

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

const keyringPath = "/api/v1/operator/gossip/keyring"

func apiTestKey(n byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{n}, 32)) }

// publish sets the gossip key fingerprints the members publish, by name.
func (e *testEnv) publish(keys map[string][]string) {
	e.cluster.mu.Lock()
	defer e.cluster.mu.Unlock()
	for i, m := range e.cluster.status.Members {
		e.cluster.status.Members[i].GossipKeys = keys[m.Name]
	}
}

func fps(keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, fsm.KeyFingerprintOf(k))
	}
	return out
}

func TestGossipKeyring_ClearTextCluster(t *testing.T) {
	e := newTestEnv(t)
	var kr client.GossipKeyring
	e.do("GET", keyringPath, e.root, nil).expect(t, http.StatusOK, &kr)
	if kr.Encrypted || kr.Primary != "" || kr.Keys == nil || len(kr.Keys) != 0 {
		t.Fatalf("clear-text listing %+v", kr)
	}
	e.do("POST", keyringPath, e.root, client.GossipKeyringRequest{Op: "install", Key: apiTestKey(1)}).
		expectError(t, http.StatusConflict, "invalid_state", "not encrypted")
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls", n)
	}
}

func TestGossipKeyring_AdminOnly(t *testing.T) {
	e := newTestEnv(t)
	for _, role := range []string{"operator", "reader"} {
		tok := e.tokenFor(role)
		e.do("GET", keyringPath, tok, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks operator:read")
		e.do("POST", keyringPath, tok, client.GossipKeyringRequest{Op: "install", Key: apiTestKey(1)}).
			expectError(t, http.StatusForbidden, "forbidden", "lacks operator:write")
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls", n)
	}
}

// A rotation through the API: each step is refused until the members are
// ready for it, and a refusal proposes nothing.
func TestGossipKeyring_Rotation(t *testing.T) {
	e := newTestEnv(t)
	a, b := apiTestKey(1), apiTestKey(2)
	e.cluster.mustApply(t, fsm.GossipKeyring{Op: fsm.KeyringInit, Key: a, Keys: []string{a}, At: time.Now().UTC()})
	e.publish(map[string][]string{"node-1": fps(a), "node-2": fps(a)}) // node-2 is suspect: not counted
	op := func(op, key string) answer {
		return e.do("POST", keyringPath, e.root, client.GossipKeyringRequest{Op: op, Key: key})
	}
	var kr client.GossipKeyring
	e.do("GET", keyringPath, e.root, nil).expect(t, http.StatusOK, &kr)
	if !kr.Encrypted || kr.Primary != fps(a)[0] || len(kr.Keys) != 1 || kr.Keys[0].Key != a || kr.Keys[0].Nodes != 1 || kr.Keys[0].Of != 1 ||
		!kr.Keys[0].Primary || !slices.Equal(kr.Keys[0].PrimaryOn, []string{"node-1"}) {
		t.Fatalf("listing %+v", kr)
	}

	op("install", b).expect(t, http.StatusAccepted, &kr)
	if len(kr.Keys) != 2 || kr.Keys[0].Key != a || kr.Keys[1].Key != b || kr.Keys[1].Nodes != 0 || !slices.Equal(kr.Keys[1].Missing, []string{"node-1"}) {
		t.Fatalf("after install %+v", kr)
	}
	calls := e.cluster.applies()
	op("use", b).expectError(t, http.StatusConflict, "invalid_state", "node-1 lack it (0 of 1 hold it)")
	e.publish(map[string][]string{"node-1": fps(a, b)})
	op("remove", a).expectError(t, http.StatusConflict, "conflict", "is the primary key")
	if n := e.cluster.applies(); n != calls {
		t.Fatalf("refused requests reached Apply: %d calls, want %d", n, calls)
	}
	op("use", b).expect(t, http.StatusAccepted, &kr)
	if kr.Primary != fps(b)[0] || kr.Keys[0].Key != b || !kr.Keys[0].Primary || kr.Keys[0].Nodes != 1 {
		t.Fatalf("after use %+v", kr)
	}
	calls = e.cluster.applies()
	op("remove", a).expectError(t, http.StatusConflict, "invalid_state", "still the primary key of node-1")
	if n := e.cluster.applies(); n != calls {
		t.Fatalf("a refused remove reached Apply")
	}
	e.publish(map[string][]string{"node-1": fps(b, a)})
	op("remove", a).expect(t, http.StatusAccepted, &kr)
	if len(kr.Keys) != 1 || kr.Keys[0].Key != b {
		t.Fatalf("after remove %+v", kr)
	}
	if got := e.fsm.GossipKeyring(); got.Primary != b || len(got.Keys) != 1 {
		t.Fatalf("state keyring %+v", got)
	}
}

func TestGossipKeyring_BadRequests(t *testing.T) {
	e := newTestEnv(t)
	a := apiTestKey(1)
	e.cluster.mustApply(t, fsm.GossipKeyring{Op: fsm.KeyringInit, Key: a, Keys: []string{a}, At: time.Now().UTC()})
	e.publish(map[string][]string{"node-1": fps(a)})
	secretish := base64.StdEncoding.EncodeToString([]byte("fifteen bytes!!"))
	cases := []struct {
		body         any
		status       int
		code, msg    string
		keyInMessage string
	}{
		{client.GossipKeyringRequest{Op: "install", Key: "%%%not-base64"}, 400, "invalid", "base64", "%%%not-base64"},
		{client.GossipKeyringRequest{Op: "install", Key: secretish}, 400, "invalid", "16, 24 or 32 bytes, got 15", secretish},
		{client.GossipKeyringRequest{Op: "install"}, 400, "invalid", "16, 24 or 32 bytes", ""},
		{client.GossipKeyringRequest{Op: "init", Key: a}, 400, "invalid", "op must be install, use or remove", ""},
		{client.GossipKeyringRequest{Op: "use", Key: apiTestKey(9)}, 404, "not_found", "not installed; install it first", apiTestKey(9)},
		{client.GossipKeyringRequest{Op: "remove", Key: apiTestKey(9)}, 404, "not_found", "not installed", apiTestKey(9)},
		{client.GossipKeyringRequest{Op: "remove", Key: a}, 409, "conflict", "primary", a},
		{`{"op":"install","key":"x","extra":1}`, 400, "bad_json", "extra", ""},
	}
	for _, c := range cases {
		d := e.do("POST", keyringPath, e.root, c.body).expectError(t, c.status, c.code, c.msg)
		if c.keyInMessage != "" && strings.Contains(d.Message, c.keyInMessage) {
			t.Errorf("%v: the error repeats the key: %s", c.body, d.Message)
		}
	}
	if n := e.cluster.applies(); n != 0 {
		t.Fatalf("%d Apply calls from refused requests", n)
	}
	// Installing a key twice, or with surrounding blanks, is one key.
	e.do("POST", keyringPath, e.root, client.GossipKeyringRequest{Op: "install", Key: " " + apiTestKey(2) + "\n"}).expect(t, http.StatusAccepted, nil)
	var kr client.GossipKeyring
	e.do("POST", keyringPath, e.root, client.GossipKeyringRequest{Op: "install", Key: apiTestKey(2)}).expect(t, http.StatusAccepted, &kr)
	if len(kr.Keys) != 2 {
		t.Fatalf("keys %+v", kr.Keys)
	}
}
