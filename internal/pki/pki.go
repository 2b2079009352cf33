// Package pki makes and loads the certificates that secure a NovaCron
// cluster: one certificate authority per cluster, a certificate per node
// (server and client, naming the node and its addresses) and certificates for
// operators' clients. Nodes trust each other through the CA alone: a peer is
// a node of this cluster if its certificate was signed by the CA and carries
// the node unit (NodeUnit); its name is the certificate's common name.
//
// Keys are ECDSA P-256. Every file is written 0600 and never overwritten.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Organizational units that say what a certificate is for.
const (
	// NodeUnit marks a node's certificate: it may serve the API and call the
	// internal endpoints of other nodes.
	NodeUnit = "novacron-node"
	// ClientUnit marks an operator's client certificate (the CLI).
	ClientUnit = "novacron-client"
)

// Validity of what this package issues.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 825 * 24 * time.Hour
)

// File names, as `novacron tls` writes them.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// ErrExists refuses to overwrite a file: a CA or key replaced by mistake would
// cut the cluster off from its own nodes.
var ErrExists = errors.New("file exists")

// CA is a loaded certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// CreateCA makes a new CA and writes dir/ca.pem and dir/ca-key.pem.
func CreateCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"NovaCron"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writePair(dir, CAFile, CAKeyFile, der, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads dir/ca.pem and dir/ca-key.pem.
func LoadCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, err
	}
	key, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", filepath.Join(dir, CAFile))
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Request says what a certificate is for.
type Request struct {
	// Name is the node's name (the common name), or "cli" for a client.
	Name string
	// Unit is NodeUnit or ClientUnit.
	Unit string
	// IPs and DNSNames are the addresses a node serves on (its SANs).
	IPs      []net.IP
	DNSNames []string
}

// Issue signs a certificate for req and writes dir/NAME.pem and
// dir/NAME-key.pem; it returns their paths.
func (ca *CA) Issue(dir string, req Request) (certPath, keyPath string, err error) {
	if req.Name == "" || filepath.Base(req.Name) != req.Name || req.Name == "." || req.Name == ".." {
		return "", "", fmt.Errorf("certificate name %q must be a plain name", req.Name)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	switch req.Unit {
	case NodeUnit:
		usage = append(usage, x509.ExtKeyUsageServerAuth)
		if len(req.IPs) == 0 && len(req.DNSNames) == 0 {
			return "", "", errors.New("a node certificate needs at least one IP address or DNS name")
		}
	case ClientUnit:
	default:
		return "", "", fmt.Errorf("unknown certificate unit %q", req.Unit)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.Name, OrganizationalUnit: []string{req.Unit}, Organization: []string{"NovaCron"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		IPAddresses:  req.IPs,
		DNSNames:     req.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return "", "", err
	}
	certName, keyName := req.Name+".pem", req.Name+"-key.pem"
	if err := writePair(dir, certName, keyName, der, key); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, certName), filepath.Join(dir, keyName), nil
}

// NodeName returns the node a verified peer certificate names, if it is a
// node certificate.
func NodeName(cert *x509.Certificate) (string, bool) {
	for _, u := range cert.Subject.OrganizationalUnit {
		if u == NodeUnit && cert.Subject.CommonName != "" {
			return cert.Subject.CommonName, true
		}
	}
	return "", false
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// writePair writes a certificate and its key, 0600 each, refusing to replace
// either.
func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w (move it away first)", p, ErrExists)
		}
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})); err != nil {
		return err
	}
	return writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("%s holds no PEM EC private key", path)
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}
