package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// createWithKey posts req with an Idempotency-Key as secret's token.
func (e *testEnv) createWithKey(secret, key string, req client.VMRequest) answer {
	e.t.Helper()
	b, _ := json.Marshal(req)
	hr, err := http.NewRequest("POST", e.http.URL+"/api/v1/vms", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+secret)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(client.IdempotencyKeyHeader, key)
	resp, err := e.http.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	return readAnswer(e.t, resp)
}

// A create sent again with the same Idempotency-Key answers the VM the first
// made, and makes no second; another token's key, or no key, is a conflict.
func TestCreateVM_IdempotencyKeyMakesOneVM(t *testing.T) {
	e := newTestEnv(t)
	var first, again client.VM
	e.createWithKey(e.root, "k-1", validVM("web-1")).expect(t, http.StatusCreated, &first)
	e.createWithKey(e.root, "k-1", validVM("web-1")).expect(t, http.StatusCreated, &again)
	if first.ID == "" || again.ID != first.ID {
		t.Fatalf("retry answered vm %q, first made %q", again.ID, first.ID)
	}
	if n := len(e.fsm.VMs()); n != 1 {
		t.Fatalf("%d VMs, want 1", n)
	}
	other := e.tokenFor("operator")
	e.createWithKey(other, "k-1", validVM("web-1")).expectError(t, http.StatusConflict, "conflict", "already taken")
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expectError(t, http.StatusConflict, "conflict", "already taken")
	e.createWithKey(e.root, strings.Repeat("k", 129), validVM("web-2")).expectError(t, http.StatusBadRequest, "invalid", "Idempotency-Key")
	e.createWithKey(e.root, "has space", validVM("web-2")).expectError(t, http.StatusBadRequest, "invalid", "Idempotency-Key")
}

// When the FSM itself finds the create already made (the node answering had
// not seen it), the API answers with that VM, not an error.
func TestCreateVM_DuplicateFoundByTheFSMAnswersTheVM(t *testing.T) {
	var hidden bool
	e := newTestEnvWith(t, Config{NodeName: "node-1"}, func(f *fsm.FSM) State {
		return hideWhen{FSM: f, hide: &hidden}
	})
	var first, again client.VM
	e.createWithKey(e.root, "k-1", validVM("web-1")).expect(t, http.StatusCreated, &first)
	hidden = true
	e.createWithKey(e.root, "k-1", validVM("web-1")).expect(t, http.StatusCreated, &again)
	if again.ID != first.ID || len(e.fsm.VMs()) != 1 {
		t.Fatalf("retry answered %q, first %q, %d VMs", again.ID, first.ID, len(e.fsm.VMs()))
	}
}

// hideWhen hides VM names from the API's pre-check while *hide, and shows
// them to the answer.
type hideWhen struct {
	*fsm.FSM
	hide *bool
}

func (h hideWhen) VMByName(project, name string) (fsm.VM, error) {
	if *h.hide {
		*h.hide = false // the pre-check misses it; the answer finds it
		return fsm.VM{}, fsm.ErrNotFound
	}
	return h.FSM.VMByName(project, name)
}
