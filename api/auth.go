package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// perm is what a route needs: an action on a resource. Who has it is package
// authz's role table, which the leader checks again for every write.
type perm = authz.Perm

// authenticate finds the token (or login session) whose secret the request
// carries as "Authorization: Bearer <secret>". A missing, malformed,
// unknown or expired credential is errUnauthenticated. First a follower
// applies what the leader told it is committed, and one that has not heard
// from the leader for MaxAuthStaleness asks the leader's read index (503
// when it cannot): a revocation the leader has committed holds on every
// node, within a heartbeat. Without confirm (the cluster's own status, which
// an operator needs most when a node has lost the leader) the local copy is
// trusted as it is.
func (s *Server) authenticate(r *http.Request, confirm bool) (fsm.Token, error) {
	if !confirm {
		return s.lookupCredential(r)
	}
	idx, err := s.cluster.CredentialIndex(r.Context(), s.cfg.MaxAuthStaleness)
	if err != nil {
		return fsm.Token{}, errorf(cluster.ErrNoLeader, "this node has lost touch with the leader, so it cannot confirm that the credential was not revoked; try another node")
	}
	if idx > 0 {
		if err := s.applied(r.Context(), idx); err != nil {
			return fsm.Token{}, err
		}
	}
	return s.lookupCredential(r)
}

// lookupCredential is authenticate's lookup in this node's state.
func (s *Server) lookupCredential(r *http.Request) (fsm.Token, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return fsm.Token{}, errorf(authz.ErrUnauthenticated, "missing Authorization header: send \"Authorization: Bearer <token>\"")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return fsm.Token{}, errorf(authz.ErrUnauthenticated, "malformed Authorization header: expected \"Bearer <token>\"")
	}
	if strings.HasPrefix(secret, sessionPrefix) {
		return s.authenticateSession(r, secret)
	}
	tok, err := s.state.TokenByHash(fsm.HashSecret(secret))
	if errors.Is(err, fsm.ErrNotFound) && (!s.cluster.CaughtUp() || !s.state.Cluster().TokenBootstrapped) {
		// A node that just started may not have applied the token's creation
		// yet, and a new cluster may not have made its root token yet:
		// "retry", not "wrong token".
		return fsm.Token{}, errorf(cluster.ErrNotReady, "this node is catching up with the cluster; retry shortly")
	}
	if errors.Is(err, fsm.ErrNotFound) {
		return fsm.Token{}, errorf(authz.ErrUnauthenticated, "unknown or revoked token")
	}
	if err != nil {
		return fsm.Token{}, err
	}
	if authz.Expired(tok, time.Now()) {
		return fsm.Token{}, errorf(authz.ErrUnauthenticated, "token %q expired at %s", tok.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

// authorize checks that tok's role grants p. When selfParam names a route
// parameter holding "self", the caller is reading its own token, which every
// authenticated caller may do.
func authorize(tok fsm.Token, p perm, selfParam string, ps httprouter.Params) error {
	if selfParam != "" && ps.ByName(selfParam) == selfID {
		return nil
	}
	if authz.Allowed(tok.Role, p) {
		return nil
	}
	return errorf(authz.ErrForbidden, "role %q may not %s %s", tok.Role, p.Action, p.Resource)
}

type callerKey struct{}

// withCaller records the token a request authenticated with, for the
// handlers (caller) and for the leader, which authorises every write the
// request causes again against its own copy of the token
// (cluster.WithCaller).
func withCaller(ctx context.Context, tok fsm.Token) context.Context {
	return cluster.WithCaller(context.WithValue(ctx, callerKey{}, tok), tok.ID)
}

// caller returns the token the request authenticated with.
func caller(ctx context.Context) (fsm.Token, bool) {
	tok, ok := ctx.Value(callerKey{}).(fsm.Token)
	return tok, ok
}
