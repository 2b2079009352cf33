package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/pki"
)

// The e2e agents run with TLS, as production agents must (secure unless
// --insecure): one CA for the whole test binary, and a node certificate
// for 127.0.0.1 issued to each agent name the first time it is asked for.
var testPKI struct {
	once sync.Once
	dir  string
	ca   *pki.CA
	err  error

	mu     sync.Mutex
	issued map[string]bool
}

// removeTestPKI removes the CA's folder; TestMain calls it at the end.
func removeTestPKI() {
	if testPKI.dir != "" {
		os.RemoveAll(testPKI.dir)
	}
}

// testCAFile is the CA every e2e client trusts.
func testCAFile(t testing.TB) string {
	t.Helper()
	testPKI.once.Do(func() {
		if testPKI.dir, testPKI.err = os.MkdirTemp("", "novacron-e2e-pki-"); testPKI.err != nil {
			return
		}
		testPKI.ca, testPKI.err = pki.CreateCA(testPKI.dir, "NovaCron e2e CA")
		testPKI.issued = map[string]bool{}
	})
	if testPKI.err != nil {
		t.Fatalf("e2e CA: %v", testPKI.err)
	}
	return filepath.Join(testPKI.dir, pki.CAFile)
}

// nodeTLSDir returns the folder holding ca.pem and name's node certificate
// (agentConfig.tlsDir), issuing the certificate when it is new.
func nodeTLSDir(t testing.TB, name string) string {
	t.Helper()
	testCAFile(t)
	testPKI.mu.Lock()
	defer testPKI.mu.Unlock()
	if !testPKI.issued[name] {
		req := pki.Request{Name: name, Unit: pki.NodeUnit, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
		if _, _, err := testPKI.ca.Issue(testPKI.dir, req); err != nil {
			t.Fatalf("e2e node certificate for %s: %v", name, err)
		}
		testPKI.issued[name] = true
	}
	return testPKI.dir
}

// testTLSConfig trusts the e2e CA, for the tests' own HTTP clients.
func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := pki.ClientConfig(pki.Files{CA: testCAFile(t)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var rawClient struct {
	once sync.Once
	c    *http.Client
}

// testHTTPClient is the raw HTTP client that reaches the e2e agents (HTTPS
// with the test CA, or plain HTTP for --insecure ones).
func testHTTPClient(t testing.TB) *http.Client {
	cfg := testTLSConfig(t)
	rawClient.once.Do(func() {
		rawClient.c = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	})
	return rawClient.c
}

var sharedKey struct {
	once sync.Once
	key  string
}

// sharedGossipKey is the gossip key of every e2e agent with TLS whose test
// names none.
func sharedGossipKey(t *testing.T) string {
	sharedKey.once.Do(func() { sharedKey.key = gossipKey(t) })
	return sharedKey.key
}
