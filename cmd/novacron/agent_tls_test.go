package main

import (
	"os"
	"strings"
	"testing"

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
