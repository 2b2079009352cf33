package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// TestOperation_ListShowWaitCancel runs the operation commands against a
// small fake of the three routes, checking what they ask and print.
func TestOperation_ListShowWaitCancel(t *testing.T) {
	op := client.Operation{ID: "0f6c1a2b-0000-4000-8000-000000000001", Kind: "migration", Project: "default",
		Object: client.OperationObject{Type: "vm", ID: "v1", Name: "web"}, State: client.OperationRunning, Progress: 42, MayCancel: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, r *http.Request, v any) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api/v1/operations", func(w http.ResponseWriter, r *http.Request) { reply(w, r, []client.Operation{op}) })
	mux.HandleFunc("GET /api/v1/operations/{id}", func(w http.ResponseWriter, r *http.Request) { reply(w, r, op) })
	mux.HandleFunc("DELETE /api/v1/operations/{id}", func(w http.ResponseWriter, r *http.Request) {
		c := op
		c.State, c.MayCancel = client.OperationCancelled, false
		w.WriteHeader(http.StatusAccepted)
		reply(w, r, c)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	env := map[string]string{envAddress: srv.URL, envToken: "t"}

	code, out, errOut := runCLI(t, env, "operation", "list")
	if code != 0 || !strings.Contains(out, "migration") || !strings.Contains(out, "vm web") || !strings.Contains(out, "42%") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "operation", "show", op.ID, "--wait", "20s")
	if code != 0 || !strings.Contains(out, "running") || !strings.Contains(out, "May cancel:  true") {
		t.Fatalf("show: %d %q", code, out)
	}
	code, out, _ = runCLI(t, env, "operation", "cancel", op.ID)
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: %d %q", code, out)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /api/v1/operations", "GET /api/v1/operations/" + op.ID + "?wait=20s", "DELETE /api/v1/operations/" + op.ID}
	for i, w := range want {
		if i >= len(seen) || !strings.HasPrefix(seen[i], w) {
			t.Fatalf("requests %v, want %v", seen, want)
		}
	}
}
