package api

import (
	"encoding/pem"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/enroll"
	"github.com/novacron/novacron/internal/pki"
)

// withCA gives the test cluster a CA, as a node started with --tls-ca-key does.
func (e *testEnv) withCA() *pki.CA {
	e.t.Helper()
	ca, err := pki.CreateCA(filepath.Join(e.t.TempDir(), "ca"), "test CA")
	if err != nil {
		e.t.Fatal(err)
	}
	cert, key, err := ca.PEM()
	if err != nil {
		e.t.Fatal(err)
	}
	e.cluster.mustApply(e.t, fsm.SetClusterCA{CertPEM: cert, KeyPEM: key})
	e.cluster.mu.Lock()
	e.cluster.status.Members[0].APIAddr = "127.0.0.1:8090"
	e.cluster.mu.Unlock()
	return ca
}

func (e *testEnv) joinToken(uses int) (client.JoinToken, enroll.Token) {
	e.t.Helper()
	var jt client.JoinToken
	e.do("POST", "/api/v1/join-tokens", e.root, client.JoinTokenRequest{Uses: uses}).expect(e.t, http.StatusCreated, &jt)
	tok, err := enroll.Parse(jt.Token)
	if err != nil {
		e.t.Fatalf("the created join token does not parse: %v", err)
	}
	return jt, tok
}

// tamper flips a bit of the request's signature: its key no longer signs it.
func tamper(t *testing.T, csrPEM string) string {
	t.Helper()
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil {
		t.Fatal("no PEM")
	}
	blk.Bytes[len(blk.Bytes)-3] ^= 1
	return string(pem.EncodeToMemory(blk))
}

func csr(t *testing.T, name string) string {
	t.Helper()
	_, c, err := pki.NewRequest(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A join token names the cluster's CA and this node, is shown once, and
// enrolls exactly as many hosts as it has uses; the certificate names the
// host and chains to the CA.
func TestJoinToken_CreateAndEnroll(t *testing.T) {
	e := newTestEnv(t)
	e.do("POST", "/api/v1/join-tokens", e.root, client.JoinTokenRequest{}).expectError(t, http.StatusConflict, "invalid_state", "--tls-ca-key")
	ca := e.withCA()
	e.do("POST", "/api/v1/join-tokens", e.tokenFor("operator"), client.JoinTokenRequest{}).expectError(t, http.StatusForbidden, "forbidden", "")
	jt, tok := e.joinToken(1)
	if tok.CAHash != pki.Fingerprint(ca.Cert) || len(tok.Addrs) != 1 || tok.Addrs[0] != "127.0.0.1:8090" {
		t.Fatalf("join token %+v", tok)
	}
	list := e.do("GET", "/api/v1/join-tokens", e.root, nil).expect(t, http.StatusOK, nil)
	if strings.Contains(string(list.body), tok.Secret) || strings.Contains(string(list.body), jt.Token) {
		t.Fatalf("the list shows the token: %s", list.body)
	}

	var caAns enroll.CA
	e.do("GET", "/api/v1/enroll/ca", "", nil).expect(t, http.StatusOK, &caAns)
	if c, err := pki.ParseCert(caAns.CA); err != nil || pki.Fingerprint(c) != tok.CAHash {
		t.Fatalf("enroll/ca: %v", err)
	}
	var ans enroll.Answer
	e.do("POST", "/api/v1/enroll", "", enroll.Request{Token: jt.Token, Name: "node-3", CSR: csr(t, "node-3"), IPs: []string{"10.0.0.3"}}).expect(t, http.StatusOK, &ans)
	cert, err := pki.ParseCert(ans.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := pki.NodeName(cert); !ok || name != "node-3" || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.0.0.3" {
		t.Fatalf("enrolled certificate: %v %v %v", name, ok, cert.IPAddresses)
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("the certificate is not signed by the cluster CA: %v", err)
	}
	// Used up.
	e.do("POST", "/api/v1/enroll", "", enroll.Request{Token: jt.Token, Name: "node-4", CSR: csr(t, "node-4"), IPs: []string{"10.0.0.4"}}).
		expectError(t, http.StatusForbidden, "forbidden", "used up")
}

// Every bad enrollment is refused with a 4xx naming the problem, and none
// spends the token.
func TestJoinToken_BadEnrollmentsSpendNothing(t *testing.T) {
	e := newTestEnv(t)
	e.withCA()
	jt, tok := e.joinToken(1)
	good := func() enroll.Request {
		return enroll.Request{Token: jt.Token, Name: "node-3", CSR: csr(t, "node-3"), IPs: []string{"10.0.0.3"}}
	}
	forged := tok
	forged.Secret = strings.Repeat("0", 48)
	cases := []struct {
		name   string
		mod    func(*enroll.Request)
		status int
		code   string
		msg    string
	}{
		{"not a token", func(r *enroll.Request) { r.Token = "hello" }, 400, "invalid", "not a NovaCron join token"},
		{"wrong secret", func(r *enroll.Request) { r.Token = forged.Encode() }, 403, "forbidden", "invalid, expired"},
		{"a live node's name", func(r *enroll.Request) { r.Name = "node-1" }, 409, "invalid_state", `node name "node-1" belongs to a node`},
		{"a bad name", func(r *enroll.Request) { r.Name = "node\x1b[31m" }, 400, "invalid", "name"},
		{"no addresses", func(r *enroll.Request) { r.IPs = nil }, 400, "invalid", "ips"},
		{"too many addresses", func(r *enroll.Request) { r.IPs = strings.Split(strings.Repeat("10.0.0.1,", 9), ",")[:9] }, 400, "invalid", "ips"},
		{"not an IP", func(r *enroll.Request) { r.IPs = []string{"example.com"} }, 400, "invalid", "not a unicast IP"},
		{"not a CSR", func(r *enroll.Request) { r.CSR = "garbage" }, 400, "invalid", "csr"},
		{"a tampered CSR", func(r *enroll.Request) { r.CSR = tamper(t, r.CSR) }, 400, "invalid", "csr"},
	}
	for _, c := range cases {
		req := good()
		c.mod(&req)
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/api/v1/enroll", "", req).expectError(t, c.status, c.code, c.msg)
		})
	}
	if got, err := e.fsm.JoinToken(jt.ID); err != nil || got.UsesLeft != 1 {
		t.Fatalf("after refused enrollments: %+v %v", got, err)
	}
	e.do("POST", "/api/v1/enroll", "", good()).expect(t, http.StatusOK, nil)
}
