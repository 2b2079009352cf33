package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// fakeRequest is one request as the fake API saw it.
type fakeRequest struct {
	Method, Path, Query, Auth, Body string
}

// fakeAPI is an in-memory stand-in for a node's HTTP API: enough state and routes
// for the CLI, with the same wire types, error bodies and index header.
type fakeAPI struct {
	token string // the only bearer token accepted

	mu      sync.Mutex
	index   uint64
	cluster client.Cluster
	nodes   []client.Node
	vms     []*client.VM
	tokens  []client.Token
	reqs    []fakeRequest
	// A created VM turns vmFinal (with vmFinalError) after readsToFinal reads of
	// it; an empty vmFinal leaves it pending with vmPendingReason.
	vmFinal         string
	vmFinalError    string
	vmPendingReason string
	readsToFinal    int
	reads           map[string]int
	// failCreate, when set, is how the fake refuses every create.
	failCreate *apiErr

	// Migrations, drains, settings and the rebalancer (cli_fake_ops_test.go).
	ops fakeOps
	// Pools and images (cli_image_test.go).
	storage fakeStorage
	// Data volumes (cli_volume_test.go).
	volumes fakeVolumes
	// VM snapshots (cli_vm_snapshot_test.go).
	snapshots fakeSnapshots

	srv *httptest.Server
}

// newFakeAPI starts a fake API that accepts token and lets created VMs run after
// two reads.
func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{token: "test-token", index: 100, vmFinal: client.StateRunning, readsToFinal: 2, reads: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/cluster", f.handle(func(*http.Request) (any, int, error) { return f.cluster, 200, nil }))
	mux.HandleFunc("GET /api/v1/nodes", f.handle(func(*http.Request) (any, int, error) { return f.nodes, 200, nil }))
	mux.HandleFunc("GET /api/v1/nodes/{id}", f.handle(f.getNode))
	mux.HandleFunc("GET /api/v1/vms", f.handle(f.listVMs))
	mux.HandleFunc("POST /api/v1/vms", f.handle(f.createVM))
	mux.HandleFunc("GET /api/v1/vms/{id}", f.handle(f.getVM))
	mux.HandleFunc("DELETE /api/v1/vms/{id}", f.handle(f.deleteVM))
	mux.HandleFunc("POST /api/v1/vms/{id}/{action}", f.handle(f.vmAction))
	mux.HandleFunc("GET /api/v1/tokens", f.handle(func(*http.Request) (any, int, error) { return f.tokens, 200, nil }))
	mux.HandleFunc("POST /api/v1/tokens", f.handle(f.createToken))
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", f.handle(f.revokeToken))
	f.routeOps(mux)
	f.routeStorage(mux)
	f.routeVolumes(mux)
	f.routeSnapshots(mux)
	f.routeOperations(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// env is the environment that points the CLI at the fake with a valid token.
func (f *fakeAPI) env() map[string]string {
	return map[string]string{envAddress: f.srv.URL, envToken: f.token}
}

// requests returns a copy of the requests seen so far.
func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

// apiErr is an error the fake answers with its status and code.
type apiErr struct {
	status    int
	code, msg string
}

func (e *apiErr) Error() string { return e.msg }

func notFound(kind, ref string) error {
	return &apiErr{404, "not_found", fmt.Sprintf("%s %q not found", kind, ref)}
}

// handle wraps a handler: it records the request, checks the token and writes the
// answer or the error body, under the fake's lock.
func (f *fakeAPI) handle(h func(*http.Request) (any, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reqs = append(f.reqs, fakeRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(body)})
		var (
			out    any
			status int
			err    error
		)
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			err = &apiErr{401, "unauthenticated", "a valid API token is required"}
		} else {
			out, status, err = h(r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(client.IndexHeader, strconv.FormatUint(f.index, 10))
		if err != nil {
			e, ok := err.(*apiErr)
			if !ok {
				e = &apiErr{500, "internal", err.Error()}
			}
			w.WriteHeader(e.status)
			_ = json.NewEncoder(w).Encode(client.ErrorBody{Error: client.ErrorDetail{Code: e.code, Message: e.msg}})
			return
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}
}

func (f *fakeAPI) getNode(r *http.Request) (any, int, error) {
	ref := r.PathValue("id")
	for _, n := range f.nodes {
		if n.ID == ref || n.Name == ref {
			return n, 200, nil
		}
	}
	return nil, 0, notFound("node", ref)
}

func (f *fakeAPI) findVM(ref string) (*client.VM, error) {
	for _, vm := range f.vms {
		if vm.ID == ref || vm.Name == ref {
			return vm, nil
		}
	}
	return nil, notFound("vm", ref)
}

func (f *fakeAPI) listVMs(r *http.Request) (any, int, error) {
	out := []client.VM{}
	node, state := r.URL.Query().Get("node"), r.URL.Query().Get("state")
	for _, vm := range f.vms {
		if (node == "" || vm.Node == node || vm.NodeName == node) && (state == "" || vm.State == state) {
			out = append(out, *vm)
		}
	}
	return out, 200, nil
}

func (f *fakeAPI) getVM(r *http.Request) (any, int, error) {
	if want := r.URL.Query().Get("index"); want != "" {
		n, err := strconv.ParseUint(want, 10, 64)
		if err != nil || n > f.index {
			return nil, 0, &apiErr{504, "index_timeout", "index not applied in time"}
		}
	}
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	f.advanceVM(vm)
	return *vm, 200, nil
}

// advanceVM counts a read of vm, or of its creation's operation: at the
// readsToFinal-th a pending VM turns vmFinal.
func (f *fakeAPI) advanceVM(vm *client.VM) {
	f.reads[vm.ID]++
	if vm.State == client.StatePending && f.reads[vm.ID] >= f.readsToFinal && f.vmFinal != "" {
		vm.State, vm.Error = f.vmFinal, f.vmFinalError
		vm.Node, vm.NodeName = "n-a", "node-a"
	}
}

func (f *fakeAPI) createVM(r *http.Request) (any, int, error) {
	if f.failCreate != nil {
		return nil, 0, f.failCreate
	}
	var req client.VMRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, 0, &apiErr{400, "bad_json", err.Error()}
	}
	if _, err := f.findVM(req.Name); err == nil {
		return nil, 0, &apiErr{409, "conflict", fmt.Sprintf("vm name %q is already taken", req.Name)}
	}
	f.index++
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	vm := &client.VM{
		ID: fmt.Sprintf("vm-%d", len(f.vms)+1), Name: req.Name, VCPUs: req.VCPUs, MemoryMiB: req.MemoryMiB,
		DiskGiB: req.DiskGiB, Boot: req.Boot, Labels: req.Labels, DesiredState: client.StateRunning,
		State: client.StatePending, PlacementReason: f.vmPendingReason, Placement: req.Placement, CreatedAt: at, UpdatedAt: at,
	}
	f.vms = append(f.vms, vm)
	return *vm, 201, nil
}

func (f *fakeAPI) deleteVM(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	for i := range f.vms {
		if f.vms[i] == vm {
			f.vms = append(f.vms[:i], f.vms[i+1:]...)
			break
		}
	}
	f.index++
	return *vm, 200, nil
}

func (f *fakeAPI) vmAction(r *http.Request) (any, int, error) {
	vm, err := f.findVM(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	switch action := r.PathValue("action"); action {
	case "start", "resume", "restart":
		vm.DesiredState = client.StateRunning
	case "stop":
		vm.DesiredState = client.StateStopped
	case "pause":
		vm.DesiredState = client.StatePaused
	default:
		return nil, 0, &apiErr{400, "invalid", fmt.Sprintf("unknown action %q", action)}
	}
	f.index++
	return *vm, 200, nil
}

func (f *fakeAPI) createToken(r *http.Request) (any, int, error) {
	var req client.TokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, 0, &apiErr{400, "bad_json", err.Error()}
	}
	tok := client.Token{ID: fmt.Sprintf("tok-%d", len(f.tokens)+1), Name: req.Name, Role: req.Role,
		User: "root", Project: req.Project, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	if tok.Role == "" {
		tok.Role = "viewer" // the server's default (authz.DefaultRole)
	}
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			return nil, 0, &apiErr{400, "invalid", "bad ttl"}
		}
		exp := tok.CreatedAt.Add(d)
		tok.ExpiresAt = &exp
	}
	f.tokens = append(f.tokens, tok)
	f.index++
	tok.Secret = "nct_secret_" + tok.ID
	return tok, 201, nil
}

func (f *fakeAPI) revokeToken(r *http.Request) (any, int, error) {
	id := r.PathValue("id")
	for i, tok := range f.tokens {
		if tok.ID == id {
			f.tokens = append(f.tokens[:i], f.tokens[i+1:]...)
			f.index++
			return tok, 200, nil
		}
	}
	return nil, 0, notFound("token", id)
}

// runCLI runs the CLI in-process with env as its environment and returns the exit
// code and what it wrote.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIOn(t, false, env, args...)
}

// testEnv is env as the CLI's getenv, with a config folder of the test's
// own unless env names one: no test reads the developer's saved session.
func testEnv(t *testing.T, env map[string]string) func(string) string {
	dir := t.TempDir()
	return func(k string) string {
		if v, ok := env[k]; ok || k != envConfigDir {
			return v
		}
		return dir
	}
}

// runCLIOn is runCLI with stdout taken for a terminal when terminal is set.
func runCLIOn(t *testing.T, terminal bool, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(testEnv(t, env), &out, &errb)
	a.pollInterval, a.opWindow = 5*time.Millisecond, time.Second
	a.terminal = terminal
	code = execute(context.Background(), a, args)
	return code, out.String(), errb.String()
}
