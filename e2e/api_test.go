package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// httpAnswer is one raw API answer.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes the answer as {"error":{"code","message"}}, failing when it
// is not one or a part is empty.
func (h httpAnswer) errorBody() (client.ErrorDetail, error) {
	var eb client.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(h.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		return eb.Error, fmt.Errorf("body %q is not {\"error\":{\"code\",\"message\"}}: %v", h.body, err)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		return eb.Error, fmt.Errorf("error body %q lacks a code or a message", h.body)
	}
	return eb.Error, nil
}

// index is the answer's X-Novacron-Index header.
func (h httpAnswer) index() uint64 {
	n, _ := strconv.ParseUint(h.header.Get(client.IndexHeader), 10, 64)
	return n
}

// send makes one raw request to a's API; token "" sends no Authorization header.
func send(t *testing.T, a *agent, method, path, token string, body []byte) httpAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testHTTPClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, a.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s on %s: read body: %v", method, path, a.name, err)
	}
	return httpAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestAuth_RealBinary(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, nil)
	vmBody := []byte(`{"name":"auth-vm","vcpus":1,"memory_mib":256,"disk_gib":1}`)
	routes := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/api/v1/cluster", nil},
		{"GET", "/api/v1/nodes", nil},
		{"GET", "/api/v1/nodes/x", nil},
		{"GET", "/api/v1/vms", nil},
		{"GET", "/api/v1/vms/x", nil},
		{"GET", "/api/v1/tokens", nil},
		{"GET", "/api/v1/tokens/self", nil},
		{"POST", "/api/v1/vms", vmBody},
		{"POST", "/api/v1/vms/x/start", nil},
		{"POST", "/api/v1/tokens", []byte(`{"name":"sneaky"}`)},
		{"PUT", "/api/v1/vms/x", vmBody},
		{"DELETE", "/api/v1/vms/x", nil},
		{"DELETE", "/api/v1/tokens/x", nil},
	}
	for _, a := range c.agents {
		for _, r := range routes {
			for _, tok := range []string{"", "not-a-real-token-0123456789"} {
				ans := send(t, a, r.method, r.path, tok, r.body)
				e, err := ans.errorBody()
				if ans.status != http.StatusUnauthorized || err != nil || e.Code != client.CodeUnauthenticated {
					t.Errorf("%s %s on %s with token %q: HTTP %d %q (%v), want 401 unauthenticated",
						r.method, r.path, a.name, tok, ans.status, ans.body, err)
				}
			}
		}
	}
	// Nothing of the above was written.
	if vms, err := c.agents[0].client(c.token).VMs(context.Background(), client.ListVMsOptions{}); err != nil || len(vms) != 0 {
		t.Errorf("after unauthenticated writes: vms = %v, %v; want none", vms, err)
	}

	// A reader may read but not write, on every node.
	leader := c.leader()
	var reader client.Token
	if err := cliJSON(t, leader.addr(), c.token, &reader, "token", "create", "e2e-reader", "--role", "reader"); err != nil {
		t.Fatal(err)
	}
	if reader.Secret == "" || reader.Role != "reader" {
		t.Fatalf("created token = %+v, want a reader with a secret", reader)
	}
	for _, a := range c.agents {
		testutil.Eventually(t, 10*time.Second, "the reader token to work on "+a.name, func() error {
			if ans := send(t, a, "GET", "/api/v1/vms", reader.Secret, nil); ans.status != http.StatusOK {
				return fmt.Errorf("GET /api/v1/vms: HTTP %d %s", ans.status, ans.body)
			}
			return nil
		})
		ans := send(t, a, "POST", "/api/v1/vms", reader.Secret, vmBody)
		if e, err := ans.errorBody(); ans.status != http.StatusForbidden || err != nil || e.Code != client.CodeForbidden {
			t.Errorf("reader POST /api/v1/vms on %s: HTTP %d %s (%v), want 403 forbidden", a.name, ans.status, ans.body, err)
		}
	}
	res := runCLI(t, c.agents[1].addr(), reader.Secret, "vm", "create", "by-reader")
	if res.Code != 1 || !strings.Contains(res.Stderr, "403") {
		t.Errorf("vm create with the reader token: %s\nwant exit 1 naming HTTP 403", res)
	}

	// A revoked token is refused everywhere once the revocation replicated.
	var doomed client.Token
	if err := cliJSON(t, c.agents[2].addr(), c.token, &doomed, "token", "create", "e2e-doomed"); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.agents {
		testutil.Eventually(t, 10*time.Second, "the new token to work on "+a.name, func() error {
			if ans := send(t, a, "GET", "/api/v1/cluster", doomed.Secret, nil); ans.status != http.StatusOK {
				return fmt.Errorf("HTTP %d %s", ans.status, ans.body)
			}
			return nil
		})
	}
	if res := runCLI(t, c.agents[0].addr(), c.token, "token", "revoke", doomed.ID); res.Code != 0 {
		t.Fatalf("token revoke: %s", res)
	}
	for _, a := range c.agents {
		testutil.Eventually(t, 10*time.Second, "the revoked token to be refused on "+a.name, func() error {
			ans := send(t, a, "GET", "/api/v1/cluster", doomed.Secret, nil)
			if e, err := ans.errorBody(); ans.status != http.StatusUnauthorized || err != nil || e.Code != client.CodeUnauthenticated {
				return fmt.Errorf("HTTP %d %s (%v)", ans.status, ans.body, err)
			}
			return nil
		})
		if ans := send(t, a, "GET", "/api/v1/cluster", c.token, nil); ans.status != http.StatusOK {
			t.Errorf("root token after revoking another on %s: HTTP %d %s", a.name, ans.status, ans.body)
		}
	}
}

func TestBadInput_RealBinary(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, nil)
	leader := c.leader()
	follower := c.followers(leader)[0]

	// A VM whose name the duplicate case reuses; it must run before the index is
	// measured, so that its host's reports are done.
	if res := runCLI(t, follower.addr(), c.token, "vm", "create", "taken", "--wait", "--timeout", "30s"); res.Code != 0 {
		t.Fatalf("%s", res)
	}
	before := stableIndex(t, c)

	long := strings.Repeat("a", 64)
	huge := `{"name":"big","vcpus":1,"memory_mib":256,"disk_gib":1,"labels":{"k":"` + strings.Repeat("x", 1<<20) + `"}}`
	cases := []struct {
		name, body string
		status     int
		code, want string // want: the message must mention it
	}{
		{"malformed JSON", `{"name":"bad-1","vcpus":1,`, 400, "bad_json", "JSON"},
		{"unknown field", `{"name":"bad-2","vcpus":1,"memory_mib":256,"disk_gib":1,"colour":"red"}`, 400, "bad_json", "colour"},
		{"wrong type", `{"name":"bad-3","vcpus":"two","memory_mib":256,"disk_gib":1}`, 400, "bad_json", "vcpus"},
		{"negative memory", `{"name":"bad-4","vcpus":1,"memory_mib":-256,"disk_gib":1}`, 400, "invalid", "memory_mib"},
		{"missing vcpus", `{"name":"bad-5","memory_mib":256,"disk_gib":1}`, 400, "invalid", "vcpus"},
		{"64-char name", `{"name":"` + long + `","vcpus":1,"memory_mib":256,"disk_gib":1}`, 400, "invalid", "name"},
		{"duplicate name", `{"name":"taken","vcpus":1,"memory_mib":256,"disk_gib":1}`, 409, "conflict", "taken"},
		{"body over 1 MiB", huge, 413, "body_too_large", "body"},
	}
	for _, tc := range cases {
		for _, a := range []*agent{follower, leader} {
			ans := send(t, a, "POST", "/api/v1/vms", c.token, []byte(tc.body))
			e, err := ans.errorBody()
			switch {
			case err != nil:
				t.Errorf("%s on %s: HTTP %d: %v", tc.name, a.name, ans.status, err)
			case ans.status != tc.status || e.Code != tc.code:
				t.Errorf("%s on %s: HTTP %d %s, want %d %s", tc.name, a.name, ans.status, e.Code, tc.status, tc.code)
			case !strings.Contains(e.Message, tc.want):
				t.Errorf("%s on %s: message %q does not mention %q", tc.name, a.name, e.Message, tc.want)
			}
			if ans.index() != before {
				t.Errorf("%s on %s: %s %d, want the unchanged applied index %d", tc.name, a.name, client.IndexHeader, ans.index(), before)
			}
		}
	}

	// Nothing reached Raft: every node still has applied and committed exactly
	// what it had before the batch.
	for _, a := range c.agents {
		cl, err := a.client(c.token).Cluster(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cl.AppliedIndex != before || cl.CommitIndex != before {
			t.Errorf("%s after the refused requests: applied %d, commit %d; before: %d", a.name, cl.AppliedIndex, cl.CommitIndex, before)
		}
	}
	vms, err := leader.client(c.token).VMs(context.Background(), client.ListVMsOptions{})
	if err != nil || len(vms) != 1 {
		t.Errorf("vms after the refused requests = %v, %v; want only \"taken\"", vms, err)
	}
}

// stableIndex waits until every agent reports the same applied and commit index
// and that value has not moved for a second, and returns it.
func stableIndex(t *testing.T, c *testCluster) uint64 {
	t.Helper()
	var last uint64
	var since time.Time
	testutil.Eventually(t, 30*time.Second, "the applied index to settle", func() error {
		var idx uint64
		for i, a := range c.agents {
			cl, err := a.client(c.token).Cluster(context.Background())
			if err != nil {
				return err
			}
			if cl.AppliedIndex != cl.CommitIndex || (i > 0 && cl.AppliedIndex != idx) {
				since = time.Time{}
				return fmt.Errorf("%s: applied %d commit %d, others %d", a.name, cl.AppliedIndex, cl.CommitIndex, idx)
			}
			idx = cl.AppliedIndex
		}
		if idx != last || since.IsZero() {
			last, since = idx, time.Now()
		}
		if d := time.Since(since); d < time.Second {
			return fmt.Errorf("index %d stable for only %s", idx, d)
		}
		return nil
	})
	return last
}
