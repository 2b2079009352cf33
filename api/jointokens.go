package api

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/enroll"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/pki"
)

// Join tokens and enrollment: an admin makes a token, and a new host trades
// it for a node certificate signed by the cluster's CA (internal/enroll).

const (
	defaultJoinTTL = time.Hour
	maxJoinTTL     = 7 * 24 * time.Hour
)

// errNoClusterCA: the cluster cannot sign certificates.
var errNoClusterCA = errors.New("this cluster cannot enroll hosts: no node was started with --tls-ca-key, so it holds no CA key to sign their certificates")

// joinTokenOrder lists join tokens oldest first.
var joinTokenOrder = byTime(func(t fsm.JoinToken) time.Time { return t.CreatedAt }, func(t fsm.JoinToken) string { return t.ID }, false)

func toClientJoinToken(t fsm.JoinToken, token string) client.JoinToken {
	return client.JoinToken{ID: t.ID, Token: token, UsesLeft: t.UsesLeft, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		Enrolled: append([]string{}, t.Enrolled...)}
}

// listJoinTokens lists the outstanding join tokens, without their secrets.
func (s *Server) listJoinTokens(r *http.Request, _ httprouter.Params) (any, error) {
	return paginate(s, r, s.state.JoinTokens(), joinTokenOrder, func(t fsm.JoinToken) client.JoinToken { return toClientJoinToken(t, "") })
}

// createJoinToken makes a join token. It carries the cluster CA's
// fingerprint and the API addresses of up to five alive voters, so a new host
// can enroll while a majority is up, whichever node answers.
func (s *Server) createJoinToken(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.JoinTokenRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	ttl := defaultJoinTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > maxJoinTTL {
			return nil, invalidf("ttl %q is not a duration between 1s and %s, such as 1h", req.TTL, maxJoinTTL)
		}
		ttl = d
	}
	uses := req.Uses
	if uses == 0 {
		uses = 1
	}
	if uses < 1 || uses > fsm.MaxJoinTokenUses {
		return nil, invalidf("uses must be 1 to %d, got %d", fsm.MaxJoinTokenUses, uses)
	}
	ca, err := s.clusterCA()
	if err != nil {
		return nil, err
	}
	addrs := s.enrollAddrs()
	if len(addrs) == 0 {
		return nil, errorf(cluster.ErrNotReady, "no alive node publishes an API address yet")
	}
	now := time.Now().UTC()
	secret := ids.Secret("", 24)
	tok := fsm.JoinToken{ID: ids.New(), Hash: fsm.HashSecret(secret), UsesLeft: uses, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateJoinToken{Token: tok})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	encoded := enroll.Token{ID: tok.ID, Secret: secret, CAHash: pki.Fingerprint(ca.Cert), Addrs: addrs}.Encode()
	return created(toClientJoinToken(tok, encoded), idx), nil
}

// enrollAddrs are the API addresses of the alive voters, this node first,
// then of other alive members, up to enroll.MaxAddrs.
func (s *Server) enrollAddrs() []string {
	st := s.cluster.Status()
	var voters, others []string
	for _, m := range st.Members {
		if m.Status != "alive" || m.APIAddr == "" {
			continue
		}
		switch {
		case m.ID == st.LocalID:
			voters = append([]string{m.APIAddr}, voters...)
		case m.RaftRole == "voter":
			voters = append(voters, m.APIAddr)
		default:
			others = append(others, m.APIAddr)
		}
	}
	all := append(voters, others...)
	return all[:min(len(all), enroll.MaxAddrs)]
}

// revokeJoinToken removes a join token before it is used up.
func (s *Server) revokeJoinToken(r *http.Request, ps httprouter.Params) (any, error) {
	tok, err := s.state.JoinToken(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.RevokeJoinToken{ID: tok.ID})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientJoinToken(tok, ""), idx), nil
}

// clusterCA is the CA the cluster signs enrolled hosts with.
func (s *Server) clusterCA() (*pki.CA, error) {
	info := s.state.Cluster()
	if info.CACert == "" {
		return nil, errorf(fsm.ErrState, "%s", errNoClusterCA.Error())
	}
	return pki.ParseCA(info.CACert, info.CAKey)
}

// enrollCA answers GET /api/v1/enroll/ca with the cluster CA's certificate,
// which is public: a new host checks it against its token's fingerprint.
func (s *Server) enrollCA(_ *http.Request, _ httprouter.Params) (any, error) {
	info := s.state.Cluster()
	if info.CACert == "" {
		return nil, errorf(fsm.ErrState, "%s", errNoClusterCA.Error())
	}
	return enroll.CA{CA: info.CACert}, nil
}

// errJoinToken is every refusal of a join token alike, so a caller learns
// nothing about which tokens exist.
var errJoinToken = errorf(authz.ErrForbidden, "the join token is invalid, expired, revoked or used up: ask an admin for a new one (novacron node join-token create)")

// enrollHost answers POST /api/v1/enroll: a host that holds a join token gets
// a node certificate for its name and addresses, and the gossip keyring. It
// needs no API token: the join token is its credential. The token's use is
// written through Raft before the answer, so a token is never spent twice.
func (s *Server) enrollHost(r *http.Request, _ httprouter.Params) (any, error) {
	var req enroll.Request
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	tok, err := enroll.Parse(req.Token)
	if err != nil {
		return nil, invalidf("token: %v", err)
	}
	stored, err := s.state.JoinToken(tok.ID)
	if err != nil || subtle.ConstantTimeCompare([]byte(stored.Hash), []byte(fsm.HashSecret(tok.Secret))) != 1 || !stored.ExpiresAt.After(time.Now()) {
		return nil, errJoinToken
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	if err := s.nameFree(req.Name); err != nil {
		return nil, err
	}
	if len(req.IPs) == 0 || len(req.IPs) > pki.MaxEnrollIPs {
		return nil, invalidf("ips: give 1 to %d addresses the node serves on", pki.MaxEnrollIPs)
	}
	var ips []net.IP
	for _, a := range req.IPs {
		ip := net.ParseIP(a)
		if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			return nil, invalidf("ips: %q is not a unicast IP address", a)
		}
		ips = append(ips, ip)
	}
	ca, err := s.clusterCA()
	if err != nil {
		return nil, err
	}
	// Sign first: a request that cannot be signed must not spend the token.
	cert, err := ca.SignNode(req.CSR, req.Name, ips)
	if err != nil {
		return nil, invalidf("csr: %v", err)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.UseJoinToken{ID: tok.ID, Hash: stored.Hash, Node: req.Name, At: time.Now().UTC()})
	if err != nil {
		if errors.Is(err, fsm.ErrState) {
			return nil, errJoinToken
		}
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	s.log.Info("host enrolled", "node", req.Name, "ips", req.IPs, "join_token", tok.ID)
	return written(enroll.Answer{Cert: cert, CA: s.state.Cluster().CACert, GossipKeys: s.gossipKeys()}, idx), nil
}

// nameFree refuses a name that a node of the cluster holds, unless that node
// left: enrolling it again would hand a second host a live node's identity.
func (s *Server) nameFree(name string) error {
	if n, err := s.state.NodeByName(name); err == nil && n.Status != fsm.NodeLeft {
		return errorf(fsm.ErrState, "node name %q belongs to a node of this cluster (%s); pick another name, or remove that node first", name, n.Status)
	}
	return nil
}

// gossipKeys is the gossip keyring an enrolled host needs, primary first
// (none while the cluster gossips in clear text).
func (s *Server) gossipKeys() []string {
	kr := s.state.GossipKeyring()
	if !kr.Encrypted() {
		return nil
	}
	out := []string{kr.Primary}
	for _, k := range kr.Keys {
		if k != kr.Primary {
			out = append(out, k)
		}
	}
	return out
}
