package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorded is one request as the fake server saw it.
type recorded struct {
	Method string
	Path   string // escaped path
	Query  string
	Header http.Header
	Body   string
}

// fakeAPI answers every request with the next canned answer and records it.
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	reqs   []recorded
	status int
	body   string
	header map[string]string
	srv    *httptest.Server
}

// newFakeAPI starts a server answering status and body to every request.
func newFakeAPI(t *testing.T, status int, body string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, status: status, body: body, header: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: string(b),
		})
		status, body := f.status, f.body
		header := make(map[string]string, len(f.header))
		for k, v := range f.header {
			header[k] = v
		}
		f.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if strings.HasPrefix(strings.TrimSpace(body), "{") || strings.HasPrefix(strings.TrimSpace(body), "[") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// answer changes what the fake answers from now on.
func (f *fakeAPI) answer(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

// setHeader makes the fake set header k to v in its answers from now on.
func (f *fakeAPI) setHeader(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.header[k] = v
}

// last returns the last request the fake saw, failing the test if there was none.
func (f *fakeAPI) last() recorded {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("the server saw no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// newTestClient returns a Client for f authenticated with token.
func newTestClient(t *testing.T, f *fakeAPI, token string) *Client {
	t.Helper()
	c, err := New(f.srv.URL+"/", token)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNew_ValidatesAddress(t *testing.T) {
	good := map[string]string{
		"http://127.0.0.1:8090":         "http://127.0.0.1:8090",
		"http://127.0.0.1:8090/":        "http://127.0.0.1:8090",
		"https://nova.example.com":      "https://nova.example.com",
		" http://[::1]:8090// ":         "http://[::1]:8090",
		"http://gateway:80/novacron/":   "http://gateway:80/novacron",
		"HTTP://upper.example.com:8090": "http://upper.example.com:8090",
		"127.0.0.1:8090":                "https://127.0.0.1:8090", // no scheme: the agents' HTTPS
		"https://a:1, https://b:2":      "https://a:1",            // several: the first, then the next
	}
	for in, want := range good {
		c, err := New(in, "")
		if err != nil {
			t.Errorf("New(%q): %v", in, err)
			continue
		}
		if c.Address() != want {
			t.Errorf("New(%q).Address() = %q, want %q", in, c.Address(), want)
		}
	}
	bad := []string{"", "ftp://host", "http://", "http://:8090",
		"http://host:8090?x=1", "http://user:pw@host", "http://host/#frag", "http://bad host"}
	for _, in := range bad {
		if _, err := New(in, ""); err == nil {
			t.Errorf("New(%q) accepted a bad address", in)
		}
	}
}

func TestClient_SendsBearerTokenOnlyWhenSet(t *testing.T) {
	f := newFakeAPI(t, 200, `{"status":"ok"}`)

	if _, err := newTestClient(t, f, "s3cret").Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.last().Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want Bearer s3cret", got)
	}
	if got := f.last().Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}

	if _, err := newTestClient(t, f, "").Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.last().Header["Authorization"]; ok {
		t.Errorf("empty token still sent Authorization %q", f.last().Header.Get("Authorization"))
	}
}

func TestClient_LastIndexFollowsHeader(t *testing.T) {
	f := newFakeAPI(t, 200, `[]`)
	c := newTestClient(t, f, "t")
	if c.LastIndex() != 0 {
		t.Fatalf("LastIndex before any request = %d", c.LastIndex())
	}
	f.setHeader(IndexHeader, "42")
	if _, err := c.Nodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.LastIndex() != 42 {
		t.Errorf("LastIndex = %d, want 42", c.LastIndex())
	}

	// A derived client shares the index both ways.
	d := c.WithReadOptions(ReadOptions{Consistent: true})
	f.setHeader(IndexHeader, "57")
	if _, err := d.Nodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.LastIndex() != 57 || d.LastIndex() != 57 {
		t.Errorf("LastIndex = %d/%d, want 57 on both", c.LastIndex(), d.LastIndex())
	}

	// A garbage header is ignored rather than resetting the index.
	f.setHeader(IndexHeader, "not-a-number")
	if _, err := c.Nodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.LastIndex() != 57 {
		t.Errorf("LastIndex after a bad header = %d, want 57", c.LastIndex())
	}

	// Errors carry the index too (a refused write still tells where the node is).
	f.answer(404, `{"error":{"code":"not_found","message":"nope"}}`)
	f.setHeader(IndexHeader, "60")
	if _, err := c.Node(context.Background(), "x"); err == nil {
		t.Fatal("want an error")
	}
	if c.LastIndex() != 60 {
		t.Errorf("LastIndex after an error answer = %d, want 60", c.LastIndex())
	}
}

func TestClient_ReadOptionsOnlyOnReads(t *testing.T) {
	f := newFakeAPI(t, 200, `{}`)
	c := newTestClient(t, f, "t").WithReadOptions(ReadOptions{WaitIndex: 17, Consistent: true})
	ctx := context.Background()

	if _, err := c.Cluster(ctx); err != nil {
		t.Fatal(err)
	}
	if q := f.last().Query; q != "consistent=true&index=17" {
		t.Errorf("read query = %q, want consistent=true&index=17", q)
	}
	if _, err := c.CreateVM(ctx, VMRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if q := f.last().Query; q != "" {
		t.Errorf("write carried read options: %q", q)
	}

	f.answer(200, `[]`)
	if _, err := c.VMs(ctx, ListVMsOptions{Node: "n 1", State: "running"}); err != nil {
		t.Fatal(err)
	}
	if q := f.last().Query; q != "consistent=true&index=17&node=n+1&state=running" {
		t.Errorf("list query = %q", q)
	}
}

func TestClient_MigrationFiltersInQuery(t *testing.T) {
	f := newFakeAPI(t, 200, `[]`)
	c := newTestClient(t, f, "t")
	if _, err := c.Migrations(context.Background(), ListMigrationsOptions{VM: "web 1", State: "running", Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	if q := f.last().Query; q != "node=n1&state=running&vm=web+1" {
		t.Errorf("query = %q", q)
	}
}

func TestClient_TimeoutBoundsRequest(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c, err := New(srv.URL, "t", WithTimeout(50*time.Millisecond), WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Cluster(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
}

func TestClient_AddressPrefixKept(t *testing.T) {
	f := newFakeAPI(t, 200, `[]`)
	c, err := New(f.srv.URL+"/gw/", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := f.last().Path; p != "/gw/api/v1/tokens" {
		t.Errorf("path = %q, want /gw/api/v1/tokens", p)
	}
}
