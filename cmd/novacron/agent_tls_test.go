package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/internal/enroll"
	"github.com/novacron/novacron/internal/pki"
)

// Outside -dev an agent runs with TLS or, said out loud, --insecure.
func TestAgentTransport_SecureUnlessToldOtherwise(t *testing.T) {
	plain := []string{"--name", "n1", "--data-dir", t.TempDir(), "--bind", "127.0.0.1", "--bootstrap-expect", "3"}
	if _, err := parseAgent(t, plain...); err == nil || !strings.Contains(err.Error(), "TLS is required") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("an agent with neither TLS nor --insecure: %v", err)
	}
	f, err := parseAgent(t, append(plain, "--insecure")...)
	if err != nil {
		t.Fatalf("--insecure refused: %v", err)
	}
	if w := strings.Join(f.warnings, "\n"); !strings.Contains(w, "running without TLS (--insecure)") {
		t.Fatalf("no warning about --insecure: %q", w)
	}
	if _, err := parseAgent(t, prodArgs(t, "--insecure")...); err == nil || !strings.Contains(err.Error(), "--insecure contradicts") {
		t.Fatalf("--insecure with TLS files: %v", err)
	}
	if f, err := parseAgent(t, prodArgs(t)...); err != nil || f.devTLS {
		t.Fatalf("TLS files: err %v, dev TLS %v", err, f.devTLS)
	}
	if f, err := parseAgent(t, "--dev", "--name", "n1"); err != nil || !f.devTLS {
		t.Fatalf("-dev: err %v, dev TLS %v (want its own certificates)", err, f.devTLS)
	}
	if f, err := parseAgent(t, "--dev", "--name", "n1", "--insecure"); err != nil || f.devTLS {
		t.Fatalf("-dev --insecure: err %v, dev TLS %v", err, f.devTLS)
	}
}

// -dev makes a CA and a node certificate for its address once, and reuses
// them when started again on the same data dir.
func TestAgentTransport_DevCertificates(t *testing.T) {
	f, err := parseAgent(t, "--dev", "--name", "n1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, err := f.devCertificates(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.ServerConfig(f.TLS)
	if err != nil {
		t.Fatalf("the dev certificates do not load: %v", err)
	}
	leaf := srv.Certificates[0].Leaf
	if leaf == nil || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" {
		t.Fatalf("dev certificate SANs: %+v", leaf)
	}
	if name, ok := pki.NodeName(leaf); !ok || name != "n1" {
		t.Fatalf("dev certificate names node %q (%v)", name, ok)
	}
	before, _ := os.ReadFile(f.TLS.Cert)
	if again, err := f.devCertificates(dir); err != nil || again != ca {
		t.Fatalf("second start: %q, %v", again, err)
	}
	if after, _ := os.ReadFile(f.TLS.Cert); string(after) != string(before) {
		t.Fatal("a second start made new certificates")
	}
}

// A host enrolled before finds its certificate in its data dir and uses it,
// whatever join token is still on its command line; the join token's
// contradictions are refused.
func TestAgentTransport_EnrolledAndJoinToken(t *testing.T) {
	dataDir := t.TempDir()
	base := []string{"--name", "n4", "--data-dir", dataDir, "--bind", "127.0.0.1"}
	tok := enroll.Token{ID: "j1", Secret: strings.Repeat("s", 32), CAHash: strings.Repeat("ab", 32), Addrs: []string{"127.0.0.1:8090"}}.Encode()
	f, err := parseAgent(t, append(base, "--join-token", tok)...)
	if err != nil || f.JoinToken != tok || f.TLS.Set() {
		t.Fatalf("a new host with a join token: err %v, token kept %v, TLS %+v", err, f.JoinToken == tok, f.TLS)
	}
	if _, err := parseAgent(t, append(base, "--join-token", "nvj1_garbage")...); err == nil || !strings.Contains(err.Error(), "--join-token") {
		t.Fatalf("a damaged join token: %v", err)
	}
	if _, err := parseAgent(t, append(base, "--join-token", tok, "--insecure")...); err == nil || !strings.Contains(err.Error(), "--insecure contradicts") {
		t.Fatalf("--insecure with a join token: %v", err)
	}
	if _, err := parseAgent(t, append(base, "--insecure", "--tls-ca-key", "/x/ca-key.pem")...); err == nil || !strings.Contains(err.Error(), "--tls-ca-key goes with") {
		t.Fatalf("--tls-ca-key without TLS: %v", err)
	}
	for _, name := range []string{enroll.CAFile, enroll.CertFile, enroll.KeyFile} {
		if err := pki.WriteFile(filepath.Join(dataDir, enrolledDir, name), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	f, err = parseAgent(t, append(base, "--join-token", tok)...)
	if err != nil || f.JoinToken != "" || f.TLS.Cert != filepath.Join(dataDir, enrolledDir, enroll.CertFile) {
		t.Fatalf("an enrolled host: err %v, token %q, TLS %+v", err, f.JoinToken, f.TLS)
	}
}
