package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/novacron/novacron/internal/pki"
)

// Paths of what enrollment writes in the host's TLS folder; the agent finds
// them there at every later start.
const (
	CAFile   = pki.CAFile
	CertFile = "node.pem"
	KeyFile  = "node-key.pem"
)

// CA is the answer of GET /api/v1/enroll/ca.
type CA struct {
	CA string `json:"ca"`
}

// Request is the body of POST /api/v1/enroll.
type Request struct {
	Token string   `json:"token"`
	Name  string   `json:"name"`
	CSR   string   `json:"csr"`
	IPs   []string `json:"ips"`
}

// Answer is what the cluster hands an enrolled host.
type Answer struct {
	Cert string `json:"cert"`
	CA   string `json:"ca"`
	// GossipKeys is the gossip keyring, primary first (empty while the
	// cluster's gossip runs in clear).
	GossipKeys []string `json:"gossip_keys,omitempty"`
}

// Host is the host that enrolls: its node name and the addresses its
// certificate must name.
type Host struct {
	Name string
	IPs  []net.IP
}

// Enrolled is what Join wrote and received.
type Enrolled struct {
	Files      pki.Files
	GossipKeys []string
}

// refusal is a 4xx answer: the cluster said no, and asking another node
// would only spend the token again or get the same answer.
type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

// Join enrolls host with the cluster tok names and writes its CA, node
// certificate and key into dir (which must not hold them yet). It asks the
// token's nodes in turn until one answers.
func Join(ctx context.Context, tok Token, host Host, dir string) (Enrolled, error) {
	keyPEM, csrPEM, err := pki.NewRequest(host.Name)
	if err != nil {
		return Enrolled{}, err
	}
	req := Request{Token: tok.Encode(), Name: host.Name, CSR: csrPEM}
	for _, ip := range host.IPs {
		req.IPs = append(req.IPs, ip.String())
	}
	var errs []error
	for _, addr := range tok.Addrs {
		ans, err := joinVia(ctx, addr, tok.CAHash, req)
		if err == nil {
			return save(dir, ans, keyPEM, host.Name)
		}
		var r refusal
		if errors.As(err, &r) {
			return Enrolled{}, fmt.Errorf("enrolling through %s: %w", addr, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return Enrolled{}, fmt.Errorf("no node named in the join token could enroll this host: %w", errors.Join(errs...))
}

// joinVia fetches the CA from addr, trusts it only if it is the one the
// token names, and asks for a certificate over TLS verified with it.
func joinVia(ctx context.Context, addr, caHash string, req Request) (Answer, error) {
	host, _, _ := net.SplitHostPort(addr)
	// The CA is public; this first call checks it by fingerprint, not by chain.
	probe := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // verified by fingerprint below
	}}
	defer probe.CloseIdleConnections()
	var ca CA
	if err := call(ctx, probe, "GET", "https://"+addr+"/api/v1/enroll/ca", nil, &ca); err != nil {
		return Answer{}, err
	}
	caCert, err := pki.ParseCert(ca.CA)
	if err != nil {
		return Answer{}, fmt.Errorf("the cluster's CA: %w", err)
	}
	if got := pki.Fingerprint(caCert); got != caHash {
		return Answer{}, refusal{fmt.Sprintf("the node presented a CA whose fingerprint %.12s… is not the join token's %.12s…: refusing it (a token of another cluster, or someone in the middle)", got, caHash)}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	verified := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12},
	}}
	defer verified.CloseIdleConnections()
	var ans Answer
	if err := call(ctx, verified, "POST", "https://"+addr+"/api/v1/enroll", req, &ans); err != nil {
		return Answer{}, err
	}
	ans.CA = ca.CA
	return ans, nil
}

// save checks the certificate the cluster signed and writes the host's files.
func save(dir string, ans Answer, keyPEM, name string) (Enrolled, error) {
	cert, err := pki.ParseCert(ans.Cert)
	if err != nil {
		return Enrolled{}, fmt.Errorf("the signed certificate: %w", err)
	}
	caCert, _ := pki.ParseCert(ans.CA)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return Enrolled{}, fmt.Errorf("the signed certificate does not chain to the cluster's CA: %w", err)
	}
	if got, ok := pki.NodeName(cert); !ok || got != name {
		return Enrolled{}, fmt.Errorf("the signed certificate names node %q, not %q", got, name)
	}
	files := pki.Files{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile)}
	for path, b := range map[string]string{files.Key: keyPEM, files.Cert: ans.Cert, files.CA: ans.CA} {
		if err := pki.WriteFile(path, []byte(b)); err != nil {
			return Enrolled{}, err
		}
	}
	return Enrolled{Files: files, GossipKeys: ans.GossipKeys}, nil
}

// call makes one JSON request; a 4xx answer is a refusal carrying the API's
// error message.
func call(ctx context.Context, c *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var apiErr struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if json.Unmarshal(b, &apiErr) == nil && apiErr.Error.Message != "" {
			msg = apiErr.Error.Message + " (" + apiErr.Error.Code + ")"
		}
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return refusal{"the cluster refused: " + msg}
		}
		return errors.New(msg)
	}
	return json.Unmarshal(b, out)
}
