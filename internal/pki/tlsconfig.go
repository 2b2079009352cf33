package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files names the three files a TLS endpoint needs.
type Files struct {
	CA, Cert, Key string
}

// Set reports whether any of the files is given.
func (f Files) Set() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Check says what is missing: a node needs all three.
func (f Files) Check() error {
	if f.Set() && (f.CA == "" || f.Cert == "" || f.Key == "") {
		return errors.New("--tls-ca, --tls-cert and --tls-key go together: give all three or none")
	}
	return nil
}

// pool reads a CA bundle.
func pool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return p, nil
}

// ServerConfig is a node's listener: it presents the node certificate and
// verifies a client certificate when one is offered (API users may
// authenticate with a bearer token alone; the internal endpoints require a
// node certificate, see NodeName).
func ServerConfig(f Files) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	cas, err := pool(f.CA)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    cas,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ClientConfig trusts the CA in f.CA and, when f.Cert is given, presents that
// certificate (a node calling another, or an operator's client certificate).
func ClientConfig(f Files) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		cas, err := pool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		cfg.RootCAs = cas
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
