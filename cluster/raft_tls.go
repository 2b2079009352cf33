package cluster

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/internal/pki"
)

// tlsStreamLayer carries Raft over mutual TLS: both ends present a node
// certificate of the cluster's CA, so a process without one (a plain
// hashicorp/raft transport sending InstallSnapshot, say) is cut off in the
// handshake before Raft reads a byte.
type tlsStreamLayer struct {
	ln     net.Listener
	adv    net.Addr
	client *tls.Config
}

// newTLSStreamLayer listens on bind with the node certificate of cfg (a
// client configuration: RootCAs and Certificates, as Config.TLS holds) and
// dials the other nodes with it.
func newTLSStreamLayer(bind string, adv net.Addr, cfg *tls.Config) (*tlsStreamLayer, error) {
	if len(cfg.Certificates) == 0 || cfg.RootCAs == nil {
		return nil, errors.New("raft over TLS needs the node certificate and the cluster's CA")
	}
	srv := &tls.Config{
		Certificates:     cfg.Certificates,
		ClientCAs:        cfg.RootCAs,
		ClientAuth:       tls.RequireAndVerifyClientCert,
		MinVersion:       tls.VersionTLS12,
		VerifyConnection: requireNodePeer,
	}
	ln, err := tls.Listen("tcp", bind, srv)
	if err != nil {
		return nil, err
	}
	client := cfg.Clone()
	client.VerifyConnection = requireNodePeer
	return &tlsStreamLayer{ln: ln, adv: adv, client: client}, nil
}

// requireNodePeer accepts only a peer whose verified certificate is a node's.
func requireNodePeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("raft: the peer presented no certificate")
	}
	if _, ok := pki.NodeName(cs.PeerCertificates[0]); !ok {
		return errors.New("raft: the peer's certificate is not a node certificate of this cluster")
	}
	return nil
}

// Accept returns the next connection; its handshake (and the peer check)
// runs on its first read, in Raft's goroutine for that connection, so a slow
// or hostile peer never holds up the others.
func (s *tlsStreamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }

// Close stops listening.
func (s *tlsStreamLayer) Close() error { return s.ln.Close() }

// Addr is the address other nodes dial.
func (s *tlsStreamLayer) Addr() net.Addr { return s.adv }

// Dial opens a mutual-TLS connection to another node's Raft address.
func (s *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), s.client)
}
