package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/oidcauth"
)

// OIDC logins (issue 14). With --oidc-issuer and --oidc-client-id, a user
// logs in through the identity provider: `novacron login --oidc` runs the
// device flow against the provider, then hands the ID token to POST
// /api/v1/login/oidc, which checks it (signature, issuer, audience, expiry)
// and answers a session like a password login. The session's user is
// "oidc:NAME" (the username claim), kept apart from the local users; it has
// no cluster role, and the roles its groups (the groups claim) are bound to
// in projects: `novacron project member add prod group:devs --role operator`.

// OIDC checks identity tokens (*oidcauth.Verifier).
type OIDC interface {
	Issuer() string
	ClientID() string
	Verify(ctx context.Context, raw string) (oidcauth.Identity, error)
}

// oidcConfig answers GET /api/v1/auth/oidc: where a CLI logs in.
func (s *Server) oidcConfig(_ *http.Request, _ httprouter.Params) (any, error) {
	if s.cfg.OIDC == nil {
		return nil, errorf(fsm.ErrNotFound, "this cluster has no OIDC provider (agents run without --oidc-issuer)")
	}
	return client.OIDCConfig{Issuer: s.cfg.OIDC.Issuer(), ClientID: s.cfg.OIDC.ClientID()}, nil
}

// loginOIDC turns a valid ID token into a session: POST /api/v1/login/oidc
// {"id_token":"..."}. Failures are held back per source address, as
// password logins are.
func (s *Server) loginOIDC(r *http.Request, _ httprouter.Params) (any, error) {
	if s.cfg.OIDC == nil {
		return nil, errorf(fsm.ErrNotFound, "this cluster has no OIDC provider (agents run without --oidc-issuer)")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, 32<<10)
	}
	var req client.OIDCLoginRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.IDToken == "" {
		return nil, invalidf("id_token is required")
	}
	addr := sourceAddr(r)
	if wait, ok := s.logins.byAddr.Allow(addr); !ok {
		return nil, &retryAfter{errorf(errTooManyRequests, "too many failed logins from %s: try again in %s", addr, wait.Round(time.Second)), wait}
	}
	id, err := s.cfg.OIDC.Verify(r.Context(), req.IDToken)
	if errors.Is(err, oidcauth.ErrInvalidToken) {
		if d, locked := s.logins.byAddr.Fail(addr); locked {
			s.auditLockout("address "+addr, "", addr, d)
		}
		return nil, errorf(authz.ErrUnauthenticated, "%v", err)
	}
	if err != nil {
		return nil, errorf(cluster.ErrNotReady, "%v", err)
	}
	user := fsm.ProviderOIDC + ":" + id.Name
	if err := fsm.ValidateName("the OIDC username claim", id.Name); err != nil {
		return nil, errorf(authz.ErrUnauthenticated, "%v", err)
	}
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.object, info.actor = user, user
	}
	s.logins.byAddr.Succeed(addr)
	return s.startSession(r, fsm.Session{User: user, Provider: fsm.ProviderOIDC, Groups: id.Groups}, "")
}
