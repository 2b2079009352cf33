package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// perm is what a route needs: an action on a resource. Who has it is package
// authz's role table, which the leader checks again for every write.
type perm = authz.Perm

// authenticate finds the key (or login session) whose secret the request
// carries as "Authorization: Bearer <secret>" and the principal it acts as.
// A missing, malformed, unknown or expired credential is unauthenticated.
// First a follower applies what the leader told it is committed, and one
// that has not heard from the leader for MaxAuthStaleness asks the leader's
// read index (503 when it cannot): a revocation the leader has committed
// holds on every node, within a heartbeat. Without confirm (the cluster's
// own status, which an operator needs most when a node has lost the leader)
// the local copy is trusted as it is.
func (s *Server) authenticate(r *http.Request, confirm bool) (*authz.Principal, error) {
	if !confirm {
		return s.lookupCredential(r)
	}
	idx, err := s.cluster.CredentialIndex(r.Context(), s.cfg.MaxAuthStaleness)
	if err != nil {
		return nil, errorf(cluster.ErrNoLeader, "this node has lost touch with the leader, so it cannot confirm that the credential was not revoked; try another node")
	}
	if idx > 0 {
		if err := s.applied(r.Context(), idx); err != nil {
			return nil, err
		}
	}
	return s.lookupCredential(r)
}

// lookupCredential is authenticate's lookup in this node's state.
func (s *Server) lookupCredential(r *http.Request) (*authz.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		h = bearerFromProtocols(r)
	}
	if h == "" {
		return nil, errorf(authz.ErrUnauthenticated, "missing Authorization header: send \"Authorization: Bearer <token>\"")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, errorf(authz.ErrUnauthenticated, "malformed Authorization header: expected \"Bearer <token>\"")
	}
	if strings.HasPrefix(secret, sessionPrefix) {
		return s.authenticateSession(r, secret)
	}
	tok, err := s.state.TokenByHash(fsm.HashSecret(secret))
	if errors.Is(err, fsm.ErrNotFound) && (!s.cluster.CaughtUp() || !s.state.Cluster().TokenBootstrapped) {
		// A node that just started may not have applied the token's creation
		// yet, and a new cluster may not have made its root token yet:
		// "retry", not "wrong token".
		return nil, errorf(cluster.ErrNotReady, "this node is catching up with the cluster; retry shortly")
	}
	if errors.Is(err, fsm.ErrNotFound) {
		return nil, errorf(authz.ErrUnauthenticated, "unknown or revoked token")
	}
	if err != nil {
		return nil, err
	}
	if authz.Expired(tok, time.Now()) {
		return nil, errorf(authz.ErrUnauthenticated, "token %q expired at %s", tok.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p, err := authz.ForKey(s.state, tok)
	if err != nil {
		return nil, err
	}
	p.ExpiresAt = tok.ExpiresAt
	s.touchKey(tok)
	return p, nil
}

type callerKey struct{}

// withCaller records the principal a request authenticated as, for the
// handlers (caller) and for the leader, which authorises every write the
// request causes again against its own copy of the credential
// (cluster.WithCaller).
func withCaller(ctx context.Context, p *authz.Principal) context.Context {
	return cluster.WithCaller(context.WithValue(ctx, callerKey{}, p), p.ID)
}

// caller returns the principal the request authenticated as. Every
// authenticated route has one; a public route gets an empty principal that
// is allowed nothing.
func caller(ctx context.Context) *authz.Principal {
	if p, ok := ctx.Value(callerKey{}).(*authz.Principal); ok {
		return p
	}
	return &authz.Principal{}
}

// forbidden is the 403 of a principal that lacks perm in project.
func forbidden(p *authz.Principal, project string, perm authz.Perm) error {
	return errorf(authz.ErrForbidden, "%s", p.Explain(project, perm))
}

// bearerFromProtocols reads the credential a browser's WebSocket carries as
// a subprotocol (client.BearerProtocolPrefix), as an Authorization header
// value; "" when the request is no WebSocket upgrade or carries none. Only
// upgrades are read: on any other request the header means nothing, and a
// credential must not be taken from where a cross-site form could put it.
func bearerFromProtocols(r *http.Request) string {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return ""
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if secret, ok := strings.CutPrefix(strings.TrimSpace(p), client.BearerProtocolPrefix); ok && secret != "" {
				return "Bearer " + secret
			}
		}
	}
	return ""
}
