package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/novacron/novacron/internal/pki"
)

// errTLSRequired is what an agent outside -dev says when it has neither
// certificates nor --insecure: secure unless told otherwise (CockroachDB's
// rule), so a forgotten flag never leaves a cluster open.
var errTLSRequired = errors.New("TLS is required: give --tls-ca, --tls-cert and --tls-key " +
	"(novacron tls ca create; novacron tls cert create --ca DIR --node NAME --ip IP), " +
	"or --insecure to run without encryption and authentication between nodes (docs/SECURITY.md)")

// checkTransportSecurity decides how the node protects its traffic: the TLS
// files given, -dev's own certificates (made at start, see devCertificates),
// or nothing with --insecure, which it warns about.
func (f *agentFlags) checkTransportSecurity() []error {
	switch {
	case f.Insecure && f.TLS.Set():
		return []error{errors.New("--insecure contradicts --tls-ca/--tls-cert/--tls-key: give one or the other")}
	case f.Insecure:
		f.warnings = append(f.warnings, "running without TLS (--insecure): API tokens, Raft and gossip travel in clear, and anyone who reaches this node's ports can act as a node of the cluster")
	case f.TLS.Set():
	case f.Dev:
		f.devTLS = true
	default:
		return []error{errTLSRequired}
	}
	return nil
}

// devCertificates gives a -dev agent the same secure paths as a production
// one: a CA and a node certificate for its bind address in dataDir/tls,
// made on first start and reused after (a -dev agent given --data-dir keeps
// them). It points f.TLS at them and returns the CA's path for the banner.
func (f *agentFlags) devCertificates(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "tls")
	caPath := filepath.Join(dir, pki.CAFile)
	f.TLS = pki.Files{CA: caPath, Cert: filepath.Join(dir, f.Name+".pem"), Key: filepath.Join(dir, f.Name+"-key.pem")}
	if _, err := os.Stat(f.TLS.Cert); err == nil {
		return caPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		if ca, err = pki.CreateCA(dir, "NovaCron dev CA"); err != nil {
			return "", fmt.Errorf("dev certificates: %w", err)
		}
	}
	req := pki.Request{Name: f.Name, Unit: pki.NodeUnit, DNSNames: []string{"localhost"}}
	for _, addr := range []string{f.Bind, f.Advertise} {
		if ip := net.ParseIP(addr); ip != nil {
			req.IPs = append(req.IPs, ip)
		}
	}
	if _, _, err := ca.Issue(dir, req); err != nil {
		return "", fmt.Errorf("dev certificates: %w", err)
	}
	return caPath, nil
}
