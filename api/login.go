package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/password"
	"github.com/novacron/novacron/internal/throttle"
)

// Logins (issue 14): POST /api/v1/login checks a user's password and answers
// a session token, an opaque secret the state holds hashed, as API tokens
// are. A session expires SessionTTL after it was last refreshed; a request
// made with it in the second half of its life moves the expiry forward
// (sliding), with one Raft entry per half life at most.
//
// Failed logins are throttled per user name and per source address, each
// with a growing lock (internal/throttle), in this node's memory: a login is
// answered by the node it reaches. A password check costs one argon2id hash
// (64 MiB, about a quarter of a second of CPU here), so at most loginSlots
// run at once and the others wait; an unknown user costs the same hash.

// sessionPrefix starts every session secret, so a leaked one is recognised
// (and told apart from an API token, "nvc_").
const sessionPrefix = "nvs_"

// loginSlots bounds the password checks that run at once on a node.
const loginSlots = 2

// maxLoginBody bounds a login's body: a name and a password.
const maxLoginBody = 4 << 10

// loginGuard is a node's throttles and password-check slots.
type loginGuard struct {
	byUser, byAddr *throttle.Throttle
	slots          chan struct{}
}

func newLoginGuard() *loginGuard {
	return &loginGuard{byUser: throttle.New(throttle.DefaultConfig()), byAddr: throttle.New(throttle.DefaultConfig()),
		slots: make(chan struct{}, loginSlots)}
}

// login checks a user's password and answers a new session token.
func (s *Server) login(r *http.Request, _ httprouter.Params) (any, error) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, maxLoginBody)
	}
	var req client.LoginRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.User == "" || req.Password == "" {
		return nil, invalidf("user and password are required")
	}
	if len(req.User) > fsm.MaxNameLen || len(req.Password) > password.MaxHashInput {
		return nil, errorf(authz.ErrUnauthenticated, "wrong user name or password")
	}
	addr := sourceAddr(r)
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.object = req.User
	}
	for _, held := range []struct {
		t    *throttle.Throttle
		key  string
		what string
	}{{s.logins.byAddr, addr, "from " + addr}, {s.logins.byUser, req.User, "for user " + req.User}} {
		if wait, ok := held.t.Allow(held.key); !ok {
			return nil, &retryAfter{errorf(errTooManyRequests, "too many failed logins %s: try again in %s", held.what, wait.Round(time.Second)), wait}
		}
	}
	ok, user, err := s.checkPassword(r.Context(), req.User, req.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.failedLogin(req.User, addr)
		return nil, errorf(authz.ErrUnauthenticated, "wrong user name or password")
	}
	s.logins.byUser.Succeed(req.User)
	s.logins.byAddr.Succeed(addr)
	return s.startSession(r, fsm.Session{User: user.Name}, user.Role)
}

// startSession writes a new session of ses's user (and, for an OIDC
// login, its provider and groups) as the node's own write, since a login
// has no caller yet, and answers with its secret, shown only here.
func (s *Server) startSession(r *http.Request, ses fsm.Session, role string) (any, error) {
	secret := ids.Secret(sessionPrefix, 24)
	now := time.Now().UTC()
	ses.ID, ses.Hash, ses.CreatedAt, ses.ExpiresAt = ids.New(), fsm.HashSecret(secret), now, now.Add(s.cfg.SessionTTL)
	idx, err := s.cluster.Apply(cluster.WithCaller(r.Context(), ""), &fsm.CreateSession{Session: ses})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	s.log.Info("login", "user", ses.User, "groups", ses.Groups, "from", sourceAddr(r), "session", ses.ID)
	return created(client.Login{Token: secret, ExpiresAt: ses.ExpiresAt, User: ses.User, Role: role}, idx), nil
}

// checkPassword checks name's password in one of the node's slots. A user
// that does not exist or is disabled costs the same hash and fails.
func (s *Server) checkPassword(ctx context.Context, name, pw string) (bool, fsm.User, error) {
	select {
	case s.logins.slots <- struct{}{}:
		defer func() { <-s.logins.slots }()
	case <-ctx.Done():
		return false, fsm.User{}, ctx.Err()
	}
	u, err := s.state.User(name)
	if err != nil || u.Disabled {
		password.DummyCheck(pw)
		return false, fsm.User{}, nil
	}
	ok, err := password.Check(u.PasswordHash, pw)
	if err != nil {
		s.log.Error("checking a stored password hash", "user", name, "error", err)
		return false, fsm.User{}, nil
	}
	return ok, u, nil
}

// failedLogin counts a failure against the user and the address, and logs
// the start of a lockout.
func (s *Server) failedLogin(user, addr string) {
	if d, locked := s.logins.byUser.Fail(user); locked {
		s.log.Warn("logins locked out", "user", user, "for", d, "from", addr)
		s.auditLockout("user "+user, user, addr, d)
	}
	if d, locked := s.logins.byAddr.Fail(addr); locked {
		s.log.Warn("logins locked out", "from", addr, "for", d, "user", user)
		s.auditLockout("address "+addr, user, addr, d)
	}
}

// sourceAddr is the request's source IP, the key of its address throttle.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// logout ends the session the request was made with.
func (s *Server) logout(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	if pr.Kind != "session" {
		return nil, invalidf("this request was made with an API key, not a login session: revoke a key with DELETE /api/v1/tokens/{id}")
	}
	if err := s.revokeSession(r, pr.ID); err != nil {
		return nil, err
	}
	return map[string]string{"status": "logged out"}, nil
}

// listSessions lists the caller's own sessions; ?user= another user's (a
// user admin, or the user itself).
func (s *Server) listSessions(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	user := r.URL.Query().Get("user")
	if user == "" {
		user = pr.User
	}
	if user != pr.User && !pr.Allowed("", authz.Read("user")) {
		return nil, forbidden(pr, "", authz.Read("user"))
	}
	return paginate(s, r, s.state.Sessions(user), sessionOrder, func(ses fsm.Session) client.Session {
		return client.Session{ID: ses.ID, User: ses.User, CreatedAt: ses.CreatedAt, ExpiresAt: ses.ExpiresAt, Current: ses.ID == pr.ID}
	})
}

var sessionOrder = byTime(func(ses fsm.Session) time.Time { return ses.CreatedAt }, func(ses fsm.Session) string { return ses.ID }, false)

// deleteSession ends one session: one of the caller's own, or (with user
// write, a user admin) anyone's.
func (s *Server) deleteSession(r *http.Request, ps httprouter.Params) (any, error) {
	pr := caller(r.Context())
	ses, err := s.state.Session(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if ses.User != pr.User && !pr.Allowed("", authz.Write("user")) {
		// Not the caller's: as if it did not exist.
		return nil, errorf(fsm.ErrNotFound, "session %q not found", ses.ID)
	}
	if err := s.revokeSession(r, ses.ID); err != nil {
		return nil, err
	}
	return map[string]string{"status": "revoked"}, nil
}

// revokeSession ends a session as the node's own write (a viewer may end its
// own session, which its role alone would not allow), once the API has
// checked the caller may.
func (s *Server) revokeSession(r *http.Request, id string) error {
	idx, err := s.cluster.Apply(cluster.WithCaller(r.Context(), ""), &fsm.RevokeSession{ID: id})
	if err != nil {
		return err
	}
	return s.applied(r.Context(), idx)
}

// authenticateSession finds the live session a secret is, and its user. A
// session this node does not hold may be a login made a moment ago through
// another node: it waits until it has applied what the leader had
// committed, and looks once more.
func (s *Server) authenticateSession(r *http.Request, secret string) (*authz.Principal, error) {
	hash := fsm.HashSecret(secret)
	ses, err := s.state.SessionByHash(hash)
	if errors.Is(err, fsm.ErrNotFound) {
		if idx, cerr := s.cluster.ConsistentIndex(r.Context()); cerr == nil && s.applied(r.Context(), idx) == nil {
			ses, err = s.state.SessionByHash(hash)
		}
	}
	if errors.Is(err, fsm.ErrNotFound) {
		return nil, errorf(authz.ErrUnauthenticated, "unknown or ended session: log in again")
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if !now.Before(ses.ExpiresAt) {
		return nil, errorf(authz.ErrUnauthenticated, "session expired at %s: log in again", ses.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p, err := authz.ForSession(s.state, ses)
	if err != nil {
		return nil, err
	}
	p.ExpiresAt = ses.ExpiresAt
	if ses.ExpiresAt.Sub(now) < s.cfg.SessionTTL/2 {
		s.refreshSession(ses.ID, now.Add(s.cfg.SessionTTL))
	}
	return p, nil
}

// refreshSession moves a session's expiry forward in the background, one
// write at a time per session.
func (s *Server) refreshSession(id string, until time.Time) {
	s.writeInBackground(id, &fsm.RefreshSession{ID: id, ExpiresAt: until.UTC()})
}

// writeInBackground applies cmd as this node's own write, without the
// request waiting, at most one at a time per credential id (a session's
// refresh, a key's last use); the next request sees it once applied here.
func (s *Server) writeInBackground(id string, cmd fsm.Command) {
	if _, busy := s.refreshing.LoadOrStore(id, true); busy {
		return
	}
	go func() {
		defer s.refreshing.Delete(id)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		idx, err := s.cluster.Apply(ctx, cmd)
		if err != nil {
			s.log.Debug("a background write failed", "command", cmd.Type().String(), "id", id, "error", err)
			return
		}
		_ = s.state.WaitForIndex(ctx, idx)
	}()
}

// whoami says who the request's credential is: an API key or a user's
// login session, the user behind it, its roles and expiry.
func (s *Server) whoami(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	out := client.Whoami{Kind: "token", ID: pr.ID, Name: pr.Name, User: pr.User, Role: pr.ClusterRole,
		Projects: pr.ProjectRoles, KeyRole: pr.KeyRole, KeyProject: pr.KeyProject}
	if pr.Kind == "session" {
		out.Kind = "session"
	}
	if !pr.ExpiresAt.IsZero() {
		out.ExpiresAt = &pr.ExpiresAt
	}
	return out, nil
}

// auditLockout records that failed logins locked out who (a user or an
// address) for d.
func (s *Server) auditLockout(who, user, addr string, d time.Duration) {
	s.audit(fsm.AuditEntry{At: time.Now().UTC(), Action: "login lockout", Object: user, Source: addr, Node: s.cfg.NodeName,
		Status: http.StatusTooManyRequests, Message: "too many failed logins: " + who + " is locked out for " + d.Round(time.Second).String()})
}
