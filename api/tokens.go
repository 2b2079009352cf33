package api

import (
	"errors"
	"net/http"
	"slices"
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

// listTokens lists keys a page at a time, oldest first: the caller's own,
// or everyone's with token read in the cluster. Hashes and secrets are never
// shown.
func (s *Server) listTokens(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	all := s.state.Tokens()
	if !pr.Allowed("", authz.Read("token")) {
		if !pr.ManagesOwnKeys("read") {
			return nil, forbidden(pr, "", authz.Read("token"))
		}
		all = slices.DeleteFunc(all, func(t fsm.Token) bool { return ownerOf(t) != pr.User })
	}
	return paginate(s, r, all, tokenOrder, func(t fsm.Token) client.Token { return toClientToken(t, "") })
}

// tokenOrder is the token list's order: oldest first, as fsm.Tokens sorts.
var tokenOrder = byTime(func(t fsm.Token) time.Time { return t.CreatedAt }, func(t fsm.Token) string { return t.ID }, false)

// ownerOf is the user a key belongs to; keys made before users are root's.
func ownerOf(t fsm.Token) string {
	if t.User == "" {
		return authz.RootUser
	}
	return t.User
}

// getToken shows one key by ID (the caller's own, or anyone's with token
// read in the cluster), or the caller's own credential as "self".
func (s *Server) getToken(r *http.Request, ps httprouter.Params) (any, error) {
	pr := caller(r.Context())
	id := ps.ByName("id")
	if id == selfID {
		if pr.Kind == "session" {
			out := client.Token{ID: pr.ID, Name: "session of " + pr.User, Role: pr.ClusterRole, User: pr.User}
			if !pr.ExpiresAt.IsZero() {
				out.ExpiresAt = &pr.ExpiresAt
			}
			return out, nil
		}
		tok, err := s.state.Token(pr.ID)
		if err != nil {
			return nil, err
		}
		return toClientToken(tok, ""), nil
	}
	tok, err := s.findOwnToken(pr, id, authz.Read("token"))
	if err != nil {
		return nil, err
	}
	return toClientToken(tok, ""), nil
}

// findOwnToken finds a key the caller may reach with need: its own, or
// anyone's when need is granted in the cluster. Another user's key is not
// found, as if it did not exist.
func (s *Server) findOwnToken(pr *authz.Principal, ref string, need authz.Perm) (fsm.Token, error) {
	everyones := pr.Allowed("", need)
	if !everyones && !pr.ManagesOwnKeys(need.Action) {
		return fsm.Token{}, forbidden(pr, "", need)
	}
	tok, err := s.findToken(ref)
	if err != nil {
		return fsm.Token{}, err
	}
	if ownerOf(tok) != pr.User && !everyones {
		if pr.Allowed("", authz.Read("token")) {
			return fsm.Token{}, forbidden(pr, "", need)
		}
		return fsm.Token{}, errorf(fsm.ErrNotFound, "token %q not found", ref)
	}
	return tok, nil
}

// createToken makes a key of the caller's user, scoped to a project (or the
// cluster), with a role no stronger there than the caller itself, and
// answers with its secret, the only time it is shown: the cluster keeps
// only its hash.
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
	if _, ok := authz.RolePerms(s.state, role); !ok {
		return nil, invalidf("role %q is not a role: GET /api/v1/roles lists them", role)
	}
	if req.Project != "" {
		if err := fsm.ValidateName("project", req.Project); err != nil {
			return nil, err
		}
		if _, _, err := s.state.Project(req.Project); err != nil {
			return nil, err
		}
	}
	pr := caller(r.Context())
	if !pr.ManagesOwnKeys("write") {
		return nil, forbidden(pr, "", authz.Write("token"))
	}
	if strings.HasPrefix(pr.User, fsm.ProviderOIDC+":") {
		return nil, errorf(authz.ErrForbidden, "%s logged in through OIDC: keys belong to the cluster's own users, whose rights do not change with a provider's groups", pr.User)
	}
	if err := pr.Within(s.state, role, req.Project); err != nil {
		return nil, errorf(authz.ErrForbidden, "a key may not be stronger than its user: %v", err)
	}
	now := time.Now().UTC()
	tok := fsm.Token{ID: ids.New(), Name: req.Name, Role: role, User: pr.User, Project: req.Project, CreatedAt: now}
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

// revokeToken removes a key (the caller's own, or anyone's with token
// write in the cluster) and answers with it; requests carrying it fail from
// then on.
func (s *Server) revokeToken(r *http.Request, ps httprouter.Params) (any, error) {
	tok, err := s.findOwnToken(caller(r.Context()), ps.ByName("id"), authz.Write("token"))
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

// touchKey records a key's use, at most every KeyUseEvery, in the
// background, one write at a time per key: the request does not wait.
func (s *Server) touchKey(tok fsm.Token) {
	now := time.Now()
	if s.cfg.KeyUseEvery < 0 || now.Sub(tok.LastUsedAt) < s.cfg.KeyUseEvery {
		return
	}
	s.writeInBackground(tok.ID, &fsm.TouchToken{ID: tok.ID, At: now.UTC()})
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
