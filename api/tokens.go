package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// selfID in /api/v1/tokens/self names the caller's own token.
const selfID = "self"

// secretPrefix marks NovaCron token secrets, for people and secret scanners.
const secretPrefix = "nvc_"

// listTokens lists tokens a page at a time, oldest first; hashes and secrets
// are never shown.
func (s *Server) listTokens(r *http.Request, _ httprouter.Params) (any, error) {
	return paginate(s, r, s.state.Tokens(), tokenOrder, func(t fsm.Token) client.Token { return toClientToken(t, "") })
}

// tokenOrder is the token list's order: oldest first, as fsm.Tokens sorts.
var tokenOrder = byTime(func(t fsm.Token) time.Time { return t.CreatedAt }, func(t fsm.Token) string { return t.ID }, false)

// getToken shows one token by ID, or the caller's own as "self".
func (s *Server) getToken(r *http.Request, ps httprouter.Params) (any, error) {
	id := ps.ByName("id")
	if id == selfID {
		tok, ok := caller(r.Context())
		if !ok {
			return nil, errorf(authz.ErrUnauthenticated, "no token in the request")
		}
		return toClientToken(tok, ""), nil
	}
	tok, err := s.findToken(id)
	if err != nil {
		return nil, err
	}
	return toClientToken(tok, ""), nil
}

// createToken makes a token and answers with its secret, the only time it is
// shown: the cluster keeps only its hash.
func (s *Server) createToken(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.TokenRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	role := req.Role
	if role == "" {
		role = authz.DefaultRole
	}
	if !authz.ValidRole(role) {
		return nil, invalidf("role %q is not one of %s", role, strings.Join(authz.Roles(), ", "))
	}
	now := time.Now().UTC()
	tok := fsm.Token{ID: ids.New(), Name: req.Name, Role: role, CreatedAt: now}
	if req.TTL != "" {
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil || ttl <= 0 {
			return nil, invalidf("ttl %q is not a positive duration such as 24h or 90m", req.TTL)
		}
		tok.ExpiresAt = now.Add(ttl)
	}
	secret := ids.Secret(secretPrefix, 24)
	tok.Hash = fsm.HashSecret(secret)
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateToken{Token: tok})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return created(toClientToken(tok, secret), idx), nil
}

// revokeToken removes a token and answers with it; requests carrying it fail
// from then on.
func (s *Server) revokeToken(r *http.Request, ps httprouter.Params) (any, error) {
	tok, err := s.findToken(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.RevokeToken{ID: tok.ID})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientToken(tok, ""), idx), nil
}

// findToken looks a token up by ID, then by name (token names need not be
// unique: a name several tokens share is refused, listing their IDs), then
// by a unique start of its ID.
func (s *Server) findToken(ref string) (fsm.Token, error) {
	tok, err := s.state.Token(ref)
	if !errors.Is(err, fsm.ErrNotFound) {
		return tok, err
	}
	var named, prefixed []fsm.Token
	for _, t := range s.state.Tokens() {
		if t.Name == ref {
			named = append(named, t)
		}
		if len(ref) >= fsm.MinIDPrefix && strings.HasPrefix(t.ID, ref) {
			prefixed = append(prefixed, t)
		}
	}
	for _, found := range [][]fsm.Token{named, prefixed} {
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		ids := make([]string, 0, maxPrefixMatches)
		for _, t := range found[:min(len(found), maxPrefixMatches)] {
			ids = append(ids, t.ID+" ("+t.Name+")")
		}
		return fsm.Token{}, invalidf("token %q is ambiguous: it names %s; give the ID", ref, strings.Join(ids, ", "))
	}
	return fsm.Token{}, err
}
