package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// fakeKeyring is the fake API's gossip keyring on three alive nodes. A change
// shows as pending for lag reads (of the keyring, or of the cluster for a
// removal), then as applied everywhere.
type fakeKeyring struct {
	keys    []string
	primary string
	lag     int
	reads   int
	removed string // the last key removed, still published while reads < lag
}

var fakeNodes = []string{"n1", "n2", "n3"}

func (f *fakeAPI) routeKeyring(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/operator/gossip/keyring", f.handle(func(*http.Request) (any, int, error) {
		k := &f.ops.keyring
		k.reads++
		if !k.pending() { // the nodes applied the removal: they publish the primary only
			for i := range f.cluster.Members {
				f.cluster.Members[i].GossipKeys = []string{fsm.KeyFingerprintOf(k.primary)}
			}
		}
		return k.listing(), 200, nil
	}))
	mux.HandleFunc("POST /api/v1/operator/gossip/keyring", f.handle(f.changeKeyring))
}

func (k *fakeKeyring) pending() bool { return k.reads < k.lag }

func (k *fakeKeyring) listing() client.GossipKeyring {
	out := client.GossipKeyring{Encrypted: len(k.keys) > 0, Primary: fsm.KeyFingerprintOf(k.primary), Keys: []client.GossipKey{}}
	for i, key := range k.keys {
		gk := client.GossipKey{Key: key, Fingerprint: fsm.KeyFingerprintOf(key), Primary: key == k.primary, Nodes: 3, Of: 3}
		last := i == len(k.keys)-1
		switch {
		case k.pending() && last && !gk.Primary:
			gk.Nodes, gk.Missing = 1, []string{"n2", "n3"}
		case gk.Primary && k.pending():
			gk.PrimaryOn = []string{"n1"}
		case gk.Primary:
			gk.PrimaryOn = fakeNodes
		}
		out.Keys = append(out.Keys, gk)
	}
	return out
}

func (f *fakeAPI) changeKeyring(r *http.Request) (any, int, error) {
	var req client.GossipKeyringRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, 0, &apiErr{400, "bad_json", err.Error()}
	}
	k := &f.ops.keyring
	key, err := fsm.CanonicalGossipKey(strings.TrimSpace(req.Key))
	if err != nil {
		return nil, 0, &apiErr{400, "invalid", err.Error()}
	}
	has := false
	for _, x := range k.keys {
		has = has || x == key
	}
	switch req.Op {
	case "install":
		if !has {
			k.keys = append(k.keys, key)
		}
	case "use":
		if !has {
			return nil, 0, &apiErr{404, "not_found", "gossip key is not installed; install it first"}
		}
		// Move it last, so listing() shows the new primary as pending.
		k.primary = key
	case "remove":
		if key == k.primary {
			return nil, 0, &apiErr{409, "conflict", "gossip key " + fsm.KeyFingerprintOf(key) + " is the primary key; use another key first"}
		}
		var keep []string
		for _, x := range k.keys {
			if x != key {
				keep = append(keep, x)
			}
		}
		k.keys, k.removed = keep, key
		f.cluster.Members = nil
		for _, n := range fakeNodes {
			f.cluster.Members = append(f.cluster.Members, client.Member{Name: n, Status: "alive",
				GossipKeys: []string{fsm.KeyFingerprintOf(k.primary), fsm.KeyFingerprintOf(key)}})
		}
	}
	k.reads = 0
	return k.listing(), 202, nil
}

// keyring runs fn on the fake's keyring under its lock (the fake's handlers
// run on the server's goroutines).
func (f *fakeAPI) keyring(fn func(k *fakeKeyring)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.ops.keyring)
}

func keyB64(n byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{n}, 32)) }

// runCLIWithStdin is runCLI with stdin.
func runCLIWithStdin(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(testEnv(t, env), &out, &errb)
	a.pollInterval = 5 * time.Millisecond
	a.stdin = strings.NewReader(stdin)
	code := execute(context.Background(), a, args)
	return code, out.String(), errb.String()
}

func TestCLI_GossipKeygen(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "operator", "gossip", "keygen")
	if code != exitOK || stderr != "" {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	key := strings.TrimSuffix(stdout, "\n")
	if b, err := fsm.ParseGossipKey(key); err != nil || len(b) != 32 || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("keygen printed %q: %v", stdout, err)
	}
	_, again, _ := runCLI(t, nil, "operator", "gossip", "keygen")
	if again == stdout {
		t.Fatal("two keygens printed the same key")
	}
	var js map[string]string
	_, out, _ := runCLI(t, nil, "operator", "gossip", "keygen", "-o", "json")
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js["key"]) != 44 {
		t.Fatalf("keygen -o json: %q %v", out, err)
	}
}

func TestCLI_GossipKeyringRotation(t *testing.T) {
	f := newFakeAPI(t)
	oldKey, newKey := keyB64(1), keyB64(2)
	f.keyring(func(k *fakeKeyring) { *k = fakeKeyring{keys: []string{oldKey}, primary: oldKey, lag: 3} })
	oldFP, newFP := fsm.KeyFingerprintOf(oldKey), fsm.KeyFingerprintOf(newKey)

	code, stdout, stderr := runCLI(t, f.env(), "operator", "gossip", "keyring", "list")
	if code != exitOK || !strings.Contains(stdout, "primary key "+oldFP) || !strings.Contains(stdout, "3/3") || strings.Contains(stdout, oldKey) {
		t.Fatalf("list: code %d\n%s%s", code, stdout, stderr)
	}
	if _, stdout, _ = runCLI(t, f.env(), "operator", "gossip", "keyring", "list", "--show-keys"); !strings.Contains(stdout, oldKey) {
		t.Fatalf("list --show-keys does not show the key:\n%s", stdout)
	}

	// install, the key from stdin; --wait polls until every node holds it.
	code, stdout, stderr = runCLIWithStdin(t, f.env(), newKey+"\n", "operator", "gossip", "keyring", "install", "-", "--wait")
	if code != exitOK || !strings.Contains(stdout, "Installed gossip key "+newFP) || strings.Contains(stdout, newKey) {
		t.Fatalf("install: code %d\n%s%s", code, stdout, stderr)
	}
	f.keyring(func(k *fakeKeyring) {
		if k.reads < k.lag {
			t.Errorf("install --wait returned after %d reads, while the key was still missing on nodes", k.reads)
		}
	})
	// use, by fingerprint: the CLI looks the key up and sends it.
	code, stdout, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "use", newFP, "--wait")
	if code != exitOK || !strings.Contains(stdout, "Gossip key "+newFP+" is the primary key") {
		t.Fatalf("use: code %d\n%s%s", code, stdout, stderr)
	}
	reqs := f.requests()
	if last := reqs[len(reqs)-1]; !strings.Contains(findPost(reqs).Body, `"op":"use"`) || !strings.Contains(findPost(reqs).Body, newKey) || last.Method != "GET" {
		t.Fatalf("use sent %+v", findPost(reqs))
	}
	// remove the old one; --wait polls the members until none publishes it.
	f.keyring(func(k *fakeKeyring) { k.lag = 1 << 30 })
	code, stdout, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "remove", oldKey, "--wait", "--timeout", "1s")
	if code != exitError || !strings.Contains(stderr, "n1, n2, n3 have not applied the change yet") {
		t.Fatalf("remove --wait while nodes still publish the key: code %d\n%s%s", code, stdout, stderr)
	}
	f.keyring(func(k *fakeKeyring) { k.lag = 3 })
	code, stdout, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "remove", oldKey, "--wait")
	if code != exitOK || !strings.Contains(stdout, "Removed gossip key "+oldFP) {
		t.Fatalf("remove: code %d\n%s%s", code, stdout, stderr)
	}
}

// findPost is the last POST among reqs.
func findPost(reqs []fakeRequest) fakeRequest {
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == "POST" {
			return reqs[i]
		}
	}
	return fakeRequest{}
}

func TestCLI_GossipKeyringErrors(t *testing.T) {
	f := newFakeAPI(t)
	key := keyB64(1)
	f.keyring(func(k *fakeKeyring) { *k = fakeKeyring{keys: []string{key}, primary: key} })
	code, _, stderr := runCLIWithStdin(t, f.env(), "", "operator", "gossip", "keyring", "install", "-")
	if code != exitUsage || !strings.Contains(stderr, "no key on standard input") {
		t.Fatalf("empty stdin: code %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "remove", key)
	if code != exitError || !strings.Contains(stderr, "is the primary key") || !strings.Contains(stderr, "409") {
		t.Fatalf("remove primary: code %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "use", "0badf00d")
	if code != exitError || !strings.Contains(stderr, "no gossip key has fingerprint 0badf00d") {
		t.Fatalf("unknown fingerprint: code %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "operator", "gossip", "keyring", "use")
	if code != exitUsage {
		t.Fatalf("use without a key: code %d %s", code, stderr)
	}
	f.keyring(func(k *fakeKeyring) { *k = fakeKeyring{} })
	code, stdout, _ := runCLI(t, f.env(), "operator", "gossip", "keyring", "list")
	if code != exitOK || !strings.Contains(stdout, "Gossip is not encrypted") {
		t.Fatalf("clear-text list: code %d %s", code, stdout)
	}
}
