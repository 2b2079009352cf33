package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Enrollment: a new host makes its own key and a certificate request, and the
// cluster signs it with the CA it keeps in its replicated state. The private
// key never leaves the host.

// MaxEnrollIPs bounds the addresses one enrolled certificate names.
const MaxEnrollIPs = 8

// Fingerprint is the hex SHA-256 of a certificate's DER bytes: what a join
// token carries so that a new host trusts only its own cluster's CA (as
// kubeadm's --discovery-token-ca-cert-hash).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// PEM returns the CA's certificate and key as PEM, for the cluster state.
func (ca *CA) PEM() (certPEM, keyPEM string, err error) {
	kb, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), nil
}

// ParseCA reads a CA from PEM (as PEM wrote it).
func ParseCA(certPEM, keyPEM string) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode([]byte(keyPEM))
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		return nil, errors.New("the CA key is not a PEM EC private key")
	}
	key, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("the CA certificate is not a CA")
	}
	return &CA{Cert: cert, Key: key}, nil
}

// ParseCert reads one PEM certificate.
func ParseCert(certPEM string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(certPEM))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// NewRequest makes a node's key and a certificate request for name, both PEM.
// The key stays with the caller, who writes it (WriteFile) once enrolled.
func NewRequest(name string) (keyPEM, csrPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// SignNode signs a node certificate for name and ips over the public key of
// csrPEM, whose signature must hold (the requester owns the key). What the
// certificate says comes from the arguments, never from the request: the
// caller has checked that name may enroll.
func (ca *CA) SignNode(csrPEM, name string, ips []net.IP) (string, error) {
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return "", errors.New("csr is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return "", fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return "", fmt.Errorf("csr: its signature does not hold: %w", err)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return "", errors.New("csr: the key must be ECDSA")
	}
	if len(ips) == 0 || len(ips) > MaxEnrollIPs {
		return "", fmt.Errorf("a node certificate names 1 to %d IP addresses, got %d", MaxEnrollIPs, len(ips))
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{NodeUnit}, Organization: []string{"NovaCron"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// WriteFile writes b to path, 0600, refusing to replace a file.
func WriteFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeNew(path, b)
}
