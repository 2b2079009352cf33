package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/novacron/novacron/internal/enroll"
	"github.com/novacron/novacron/internal/pki"
)

// errTLSRequired is what an agent outside -dev says when it has neither
// certificates nor --insecure: secure unless told otherwise (CockroachDB's
// rule), so a forgotten flag never leaves a cluster open.
var errTLSRequired = errors.New("TLS is required: give --tls-ca, --tls-cert and --tls-key " +
	"(novacron tls ca create; novacron tls cert create --ca DIR --node NAME --ip IP), " +
	"or --insecure to run without encryption and authentication between nodes (docs/SECURITY.md)")

// checkTransportSecurity decides how the node protects its traffic: the TLS
// files given; the ones an earlier enrollment left in the data dir; a join
// token to enroll with at start (enrollHost); -dev's own certificates (made
// at start, see devCertificates); or nothing with --insecure, which it warns
// about.
func (f *agentFlags) checkTransportSecurity() []error {
	var errs []error
	if f.JoinToken != "" {
		if _, err := enroll.Parse(f.JoinToken); err != nil {
			errs = append(errs, fmt.Errorf("--join-token: %w", err))
		}
	}
	if f.CAKey != "" && !f.TLS.Set() && !f.Dev {
		errs = append(errs, errors.New("--tls-ca-key goes with --tls-ca, --tls-cert and --tls-key: the node serves with its own certificate of that CA"))
	}
	enrolled := f.enrolledFiles()
	switch {
	case f.Insecure && (f.TLS.Set() || f.JoinToken != ""):
		errs = append(errs, errors.New("--insecure contradicts --tls-ca/--tls-cert/--tls-key and --join-token: give one or the other"))
	case f.Insecure:
		f.warnings = append(f.warnings, "running without TLS (--insecure): API tokens, Raft and gossip travel in clear, and anyone who reaches this node's ports can act as a node of the cluster")
	case f.TLS.Set():
	case enrolled.Set():
		// Enrolled before: the join token, if still given, is spent already.
		f.TLS, f.JoinToken = enrolled, ""
	case f.JoinToken != "":
	case f.Dev:
		f.devTLS = true
	default:
		errs = append(errs, errTLSRequired)
	}
	return errs
}

// enrolledFiles are the TLS files an earlier enrollment wrote in the data
// dir, or none.
func (f *agentFlags) enrolledFiles() pki.Files {
	if f.DataDir == "" {
		return pki.Files{}
	}
	dir := filepath.Join(f.DataDir, enrolledDir)
	files := pki.Files{CA: filepath.Join(dir, enroll.CAFile), Cert: filepath.Join(dir, enroll.CertFile), Key: filepath.Join(dir, enroll.KeyFile)}
	for _, p := range []string{files.CA, files.Cert, files.Key} {
		if _, err := os.Stat(p); err != nil {
			return pki.Files{}
		}
	}
	return files
}

// enrolledDir is the data dir's folder for what enrollment wrote.
const enrolledDir = "tls"

// enrollHost trades the join token for this host's node certificate before
// anything starts, and points f.TLS at what it wrote. It returns the gossip
// keyring the cluster handed over.
func (f *agentFlags) enrollHost(ctx context.Context, logger *slog.Logger) ([]string, error) {
	tok, err := enroll.Parse(f.JoinToken)
	if err != nil {
		return nil, err
	}
	host := enroll.Host{Name: f.Name}
	for _, a := range []string{f.Bind, f.Advertise} {
		if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() && !slices.ContainsFunc(host.IPs, ip.Equal) {
			host.IPs = append(host.IPs, ip)
		}
	}
	if len(host.IPs) == 0 {
		return nil, errors.New("enrolling with the join token: the certificate must name this node's address: give --advertise IP (--bind listens on every address)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got, err := enroll.Join(ctx, tok, host, filepath.Join(f.DataDir, enrolledDir))
	if err != nil {
		return nil, fmt.Errorf("enrolling with the join token: %w", err)
	}
	logger.Info("enrolled with the cluster: node certificate received", "component", "enroll", "name", f.Name, "via", tok.Addrs)
	f.TLS, f.JoinToken = got.Files, ""
	return got.GossipKeys, nil
}

// clusterCA reads the CA certificate and key (--tls-ca, --tls-ca-key) as PEM
// for the cluster state, checking that they belong together.
func (f *agentFlags) clusterCA() (certPEM, keyPEM string, err error) {
	if f.CAKey == "" {
		return "", "", nil
	}
	cb, err := os.ReadFile(f.TLS.CA)
	if err != nil {
		return "", "", err
	}
	kb, err := os.ReadFile(f.CAKey)
	if err != nil {
		return "", "", fmt.Errorf("--tls-ca-key: %w", err)
	}
	ca, err := pki.ParseCA(string(cb), string(kb))
	if err != nil {
		return "", "", fmt.Errorf("--tls-ca-key: %w", err)
	}
	if !ca.Key.PublicKey.Equal(ca.Cert.PublicKey) {
		return "", "", errors.New("--tls-ca-key is not the key of the CA in --tls-ca")
	}
	return ca.PEM()
}

// devCertificates gives a -dev agent the same secure paths as a production
// one: a CA and a node certificate for its bind address in dataDir/tls,
// made on first start and reused after (a -dev agent given --data-dir keeps
// them). It points f.TLS at them and returns the CA's path for the banner.
func (f *agentFlags) devCertificates(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "tls")
	caPath := filepath.Join(dir, pki.CAFile)
	f.TLS = pki.Files{CA: caPath, Cert: filepath.Join(dir, f.Name+".pem"), Key: filepath.Join(dir, f.Name+"-key.pem")}
	// The dev cluster can enroll hosts with join tokens too.
	f.CAKey = filepath.Join(dir, pki.CAKeyFile)
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
