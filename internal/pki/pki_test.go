package pki

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateCA_IssueAndVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := CreateCA(dir, "test-cluster")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCA(dir, "again"); !errors.Is(err, ErrExists) {
		t.Fatalf("a second CA over the first: %v, want ErrExists", err)
	}
	loaded, err := LoadCA(dir)
	if err != nil || !loaded.Cert.Equal(ca.Cert) {
		t.Fatalf("LoadCA: %v", err)
	}
	certPath, keyPath, err := loaded.Issue(dir, Request{Name: "node-1", Unit: NodeUnit, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{certPath, keyPath, filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", p, st.Mode().Perm(), err)
		}
	}
	if _, _, err := loaded.Issue(dir, Request{Name: "node-1", Unit: NodeUnit, IPs: []net.IP{net.ParseIP("127.0.0.1")}}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second node-1 certificate: %v, want ErrExists", err)
	}
	for _, bad := range []Request{
		{Name: "../x", Unit: NodeUnit, IPs: []net.IP{net.ParseIP("127.0.0.1")}},
		{Name: "n", Unit: NodeUnit},
		{Name: "n", Unit: "admin"},
	} {
		if _, _, err := loaded.Issue(dir, bad); err == nil {
			t.Errorf("issued %+v", bad)
		}
	}
}

// A node's server presents its certificate; a client of the same CA with a
// node certificate is seen as that node, a CLI certificate is not a node, and
// a certificate of another CA is refused in the handshake.
func TestTLS_NodeIdentityThroughTheHandshake(t *testing.T) {
	dir := t.TempDir()
	ca, _ := CreateCA(dir, "c1")
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	n1c, n1k, _ := ca.Issue(dir, Request{Name: "node-1", Unit: NodeUnit, IPs: loopback})
	n2c, n2k, _ := ca.Issue(dir, Request{Name: "node-2", Unit: NodeUnit, IPs: loopback})
	clic, clik, _ := ca.Issue(dir, Request{Name: "cli", Unit: ClientUnit})
	other := t.TempDir()
	oca, _ := CreateCA(other, "c2")
	oc, ok, _ := oca.Issue(other, Request{Name: "node-1", Unit: NodeUnit, IPs: loopback})

	srvCfg, err := ServerConfig(Files{CA: filepath.Join(dir, CAFile), Cert: n1c, Key: n1k})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			name := "(none)"
			if tc.Handshake() == nil {
				if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
					if n, ok := NodeName(st.PeerCertificates[0]); ok {
						name = n
					} else {
						name = "(not a node)"
					}
				}
			} else {
				name = "(handshake failed)"
			}
			peers <- name
			io.WriteString(c, "x")
			c.Close()
		}
	}()
	dial := func(f Files) (string, error) {
		cfg, err := ClientConfig(f)
		if err != nil {
			return "", err
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			_, err = io.ReadAll(c)
			c.Close()
		}
		return <-peers, err
	}
	caFile := filepath.Join(dir, CAFile)
	for _, tc := range []struct {
		name  string
		files Files
		want  string
	}{
		{"node certificate", Files{CA: caFile, Cert: n2c, Key: n2k}, "node-2"},
		{"cli certificate", Files{CA: caFile, Cert: clic, Key: clik}, "(not a node)"},
		{"no certificate", Files{CA: caFile}, "(none)"},
		// The server names its CA as the only acceptable one, so a client holding
		// another CA's certificate sends none: no node identity.
		{"another CA's node", Files{CA: caFile, Cert: oc, Key: ok}, "(none)"},
	} {
		got, _ := dial(tc.files)
		if got != tc.want {
			t.Errorf("%s: server saw %q, want %q", tc.name, got, tc.want)
		}
	}
	// A client that trusts another CA refuses the server.
	cfg, _ := ClientConfig(Files{CA: filepath.Join(other, CAFile)})
	if c, err := tls.Dial("tcp", ln.Addr().String(), cfg); err == nil {
		c.Close()
		<-peers
		t.Fatal("a client of another CA accepted the server")
	} else {
		<-peers
	}
}
