package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// perm is what a route needs: an action on a resource. Resources are cluster,
// node, vm, migration, failover, settings, token and operator (the gossip
// keyring, whose listing shows the keys: granted to no role but admin);
// actions are read and write.
type perm struct {
	resource, action string
}

// anyOf in a grant matches every resource or every action.
const anyOf = "*"

// roles is the one table of what each role may do. A new role (or a tenant-scoped
// one) is a new row; nothing else changes.
var roles = map[string][]perm{
	"admin": {{resource: anyOf, action: anyOf}},
	"operator": {
		{resource: "cluster", action: "read"},
		{resource: "node", action: "read"}, {resource: "node", action: "write"},
		{resource: "vm", action: "read"}, {resource: "vm", action: "write"},
		{resource: "migration", action: "read"}, {resource: "migration", action: "write"},
		{resource: "failover", action: "read"},
		{resource: "settings", action: "read"},
	},
	"reader": {
		{resource: "cluster", action: "read"},
		{resource: "node", action: "read"},
		{resource: "vm", action: "read"},
		{resource: "migration", action: "read"},
		{resource: "failover", action: "read"},
		{resource: "settings", action: "read"},
	},
}

// DefaultRole is the role of a token created without one: the weakest, so a
// forgotten --role gives too little rather than too much (issue 11).
const DefaultRole = "reader"

// Roles returns the names of the valid token roles, sorted.
func Roles() []string {
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// ValidRole reports whether role is a known token role.
func ValidRole(role string) bool {
	_, ok := roles[role]
	return ok
}

// allowed reports whether role grants p.
func allowed(role string, p perm) bool {
	for _, g := range roles[role] {
		if (g.resource == anyOf || g.resource == p.resource) && (g.action == anyOf || g.action == p.action) {
			return true
		}
	}
	return false
}

// authenticate finds the token whose secret the request carries as
// "Authorization: Bearer <secret>". A missing, malformed, unknown or expired
// credential is errUnauthenticated.
func (s *Server) authenticate(r *http.Request) (fsm.Token, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return fsm.Token{}, errorf(errUnauthenticated, "missing Authorization header: send \"Authorization: Bearer <token>\"")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return fsm.Token{}, errorf(errUnauthenticated, "malformed Authorization header: expected \"Bearer <token>\"")
	}
	tok, err := s.state.TokenByHash(fsm.HashSecret(secret))
	if errors.Is(err, fsm.ErrNotFound) && !s.cluster.CaughtUp() {
		// A node that just started may not have applied the token's creation
		// yet: "retry", not "wrong token".
		return fsm.Token{}, errorf(cluster.ErrNotReady, "this node is catching up with the cluster; retry shortly")
	}
	if errors.Is(err, fsm.ErrNotFound) {
		return fsm.Token{}, errorf(errUnauthenticated, "unknown or revoked token")
	}
	if err != nil {
		return fsm.Token{}, err
	}
	if !tok.ExpiresAt.IsZero() && !time.Now().Before(tok.ExpiresAt) {
		return fsm.Token{}, errorf(errUnauthenticated, "token %q expired at %s", tok.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
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
	if allowed(tok.Role, p) {
		return nil
	}
	return errorf(errForbidden, "role %q may not %s %s", tok.Role, p.action, p.resource)
}

type callerKey struct{}

func withCaller(ctx context.Context, tok fsm.Token) context.Context {
	return context.WithValue(ctx, callerKey{}, tok)
}

// caller returns the token the request authenticated with.
func caller(ctx context.Context) (fsm.Token, bool) {
	tok, ok := ctx.Value(callerKey{}).(fsm.Token)
	return tok, ok
}
