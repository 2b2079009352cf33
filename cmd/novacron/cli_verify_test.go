package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// digestServer is one member's API answering only its state digest, each
// answer taken from next.
func digestServer(t *testing.T, token string, next func() client.Digest) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/cluster/digest" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":{"code":"not_found","message":"no"}}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(next())
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// verifyCluster seeds f with three alive members (and one failed, which
// verify must skip) answering the digests a, b and c.
func verifyCluster(t *testing.T, f *fakeAPI, a, b, c func() client.Digest) {
	f.cluster = client.Cluster{ID: "c-1", Leader: "node-a", Node: "node-a", Members: []client.Member{
		{Name: "node-a", Status: "alive", APIAddr: digestServer(t, f.token, a)},
		{Name: "node-b", Status: "alive", APIAddr: digestServer(t, f.token, b)},
		{Name: "node-c", Status: "alive", APIAddr: digestServer(t, f.token, c)},
		{Name: "node-d", Status: "failed", APIAddr: "127.0.0.1:1"},
	}}
}

func fixed(d client.Digest) func() client.Digest { return func() client.Digest { return d } }

func TestClusterVerify_AgreeingMembersAfterOneCatchesUp(t *testing.T) {
	f := newFakeAPI(t)
	sum := strings.Repeat("ab", 32)
	// node-c lags one index behind for its first two answers.
	var asked atomic.Int32
	lagging := func() client.Digest {
		if asked.Add(1) <= 2 {
			return client.Digest{Node: "node-c", AppliedIndex: 41, SHA256: strings.Repeat("cd", 32)}
		}
		return client.Digest{Node: "node-c", AppliedIndex: 42, SHA256: sum, VMs: 3}
	}
	verifyCluster(t, f,
		fixed(client.Digest{Node: "node-a", AppliedIndex: 42, SHA256: sum, VMs: 3}),
		fixed(client.Digest{Node: "node-b", AppliedIndex: 42, SHA256: sum, VMs: 3}), lagging)
	code, stdout, stderr := runCLI(t, f.env(), "cluster", "verify")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"node-a   42", "node-c   42", "abababababababab", "All 3 alive members hold the same state at index 42."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "node-d") {
		t.Errorf("the failed member was asked:\n%s", stdout)
	}
}

func TestClusterVerify_DivergedMembersExitOne(t *testing.T) {
	f := newFakeAPI(t)
	verifyCluster(t, f,
		fixed(client.Digest{Node: "node-a", AppliedIndex: 42, SHA256: strings.Repeat("ab", 32)}),
		fixed(client.Digest{Node: "node-b", AppliedIndex: 42, SHA256: strings.Repeat("ab", 32)}),
		fixed(client.Digest{Node: "node-c", AppliedIndex: 42, SHA256: strings.Repeat("ef", 32)}))
	code, stdout, stderr := runCLI(t, f.env(), "cluster", "verify", "-o", "json")
	if code != exitError || !strings.Contains(stderr, "replicas diverged") || !strings.Contains(stderr, "node-c") {
		t.Fatalf("code %d, stderr %q: want exit 1 naming the diverged member", code, stderr)
	}
	var ds []client.Digest
	if err := json.Unmarshal([]byte(stdout), &ds); err != nil || len(ds) != 3 {
		t.Fatalf("JSON output %q: %v", stdout, err)
	}
}

func TestClusterVerify_NeverCommonIndexTimesOut(t *testing.T) {
	f := newFakeAPI(t)
	var n atomic.Uint64
	moving := func() client.Digest { return client.Digest{Node: "node-c", AppliedIndex: 100 + n.Add(1), SHA256: "x"} }
	verifyCluster(t, f, fixed(client.Digest{Node: "node-a", AppliedIndex: 42, SHA256: "x"}),
		fixed(client.Digest{Node: "node-b", AppliedIndex: 42, SHA256: "x"}), moving)
	code, _, stderr := runCLI(t, f.env(), "cluster", "verify", "--wait", "300ms")
	if code != exitError || !strings.Contains(stderr, "did not reach one applied index within 300ms") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if code, _, stderr = runCLI(t, f.env(), "cluster", "verify", "--wait", "0s"); code != exitUsage {
		t.Fatalf("--wait 0s: code %d, stderr %q", code, stderr)
	}
}
