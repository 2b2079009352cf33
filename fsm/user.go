package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"slices"
	"strings"
	"time"
)

// Users log in with a password and get a session (issue 14). The state
// holds each user's password as an argon2id PHC string (internal/password
// makes and checks it; the FSM never sees a password) and each session by
// the SHA-256 of its secret, as API tokens are held. A user has one cluster
// role, from the same table as tokens (authz), until role bindings in
// projects come.

// RootUser is the built-in user that owns the root key and the keys made
// before users existed (authz); no user of that name can be made, so no
// login can act as it.
const RootUser = "root"

// MaxUsers bounds the users a cluster holds.
const MaxUsers = 10000

// MaxSessionsPerUser bounds one user's sessions: a new one past it ends the
// oldest, so a script that logs in in a loop cannot fill the state.
const MaxSessionsPerUser = 32

// MaxPasswordHash bounds a stored password hash.
const MaxPasswordHash = 512

// User is a person (or a script) who logs in with a password.
type User struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Session is a user's login: a bearer secret, stored hashed, that expires.
// Its expiry slides forward as it is used (RefreshSession).
type Session struct {
	ID        string    `json:"id"`
	Hash      string    `json:"hash"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Provider is "oidc" for a login through the identity provider
	// (--oidc-issuer): its User ("oidc:NAME") has no record here, and its
	// rights come from the bindings of its Groups, as the provider's token
	// claimed them at login. Empty for a password login.
	Provider string   `json:"provider,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// ProviderOIDC marks a session made from an OIDC identity token.
const ProviderOIDC = "oidc"

// Bounds of an OIDC session's groups, as claimed by the provider.
const (
	MaxSessionGroups = 64
	maxGroupName     = 128
)

// CreateUser adds a user.
type CreateUser struct {
	User User `json:"user"`
}

// UpdateUser changes what it sets of a user: its password hash, role or
// disabled flag. A new password or a disabled user ends the user's sessions.
type UpdateUser struct {
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash,omitempty"`
	Role         string `json:"role,omitempty"`
	// NoRole takes the user's cluster role away.
	NoRole   bool      `json:"no_role,omitempty"`
	Disabled *bool     `json:"disabled,omitempty"`
	At       time.Time `json:"at"`
}

// DeleteUser removes a user and ends its sessions.
type DeleteUser struct {
	Name string `json:"name"`
}

// CreateSession records a login. Apply refuses it for a user that is gone
// or disabled meanwhile.
type CreateSession struct {
	Session Session `json:"session"`
}

// RevokeSession ends a session (a logout).
type RevokeSession struct {
	ID string `json:"id"`
}

// RefreshSession moves a session's expiry forward (never back).
type RefreshSession struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (CreateUser) Type() CommandType     { return CmdCreateUser }
func (UpdateUser) Type() CommandType     { return CmdUpdateUser }
func (DeleteUser) Type() CommandType     { return CmdDeleteUser }
func (CreateSession) Type() CommandType  { return CmdCreateSession }
func (RevokeSession) Type() CommandType  { return CmdRevokeSession }
func (RefreshSession) Type() CommandType { return CmdRefreshSession }

func (c CreateUser) target() (string, string)     { return "user", c.User.Name }
func (c UpdateUser) target() (string, string)     { return "user", c.Name }
func (c DeleteUser) target() (string, string)     { return "user", c.Name }
func (c CreateSession) target() (string, string)  { return "session", c.Session.ID }
func (c RevokeSession) target() (string, string)  { return "session", c.ID }
func (c RefreshSession) target() (string, string) { return "session", c.ID }

func init() {
	register(CmdCreateUser, "CreateUser", applyCreateUser)
	register(CmdUpdateUser, "UpdateUser", applyUpdateUser)
	register(CmdDeleteUser, "DeleteUser", applyDeleteUser)
	register(CmdCreateSession, "CreateSession", applyCreateSession)
	register(CmdRevokeSession, "RevokeSession", applyRevokeSession)
	register(CmdRefreshSession, "RefreshSession", applyRefreshSession)
}

// ValidateUser checks a user's name and the size of its hash; the role is
// checked by the API and the leader against authz's table.
func ValidateUser(u *User) error {
	if err := ValidateName("user name", u.Name); err != nil {
		return err
	}
	if u.PasswordHash == "" || len(u.PasswordHash) > MaxPasswordHash {
		return errorf(ErrInvalid, "user %q: a password hash of 1 to %d bytes is required", u.Name, MaxPasswordHash)
	}
	return nil
}

func applyCreateUser(s *state, c *CreateUser, _ uint64) error {
	u := c.User
	if err := ValidateUser(&u); err != nil {
		return err
	}
	if _, dup := s.users[u.Name]; dup || u.Name == RootUser {
		return errorf(ErrConflict, "user %q already exists", u.Name)
	}
	if len(s.users) >= MaxUsers {
		return errorf(ErrConflict, "the cluster holds %d users, the most it may", MaxUsers)
	}
	s.users[u.Name] = &u
	return nil
}

func applyUpdateUser(s *state, c *UpdateUser, _ uint64) error {
	u, ok := s.users[c.Name]
	if !ok {
		return errorf(ErrNotFound, "user %q not found", c.Name)
	}
	next := *u
	if c.PasswordHash != "" {
		next.PasswordHash = c.PasswordHash
	}
	if c.Role != "" || c.NoRole {
		next.Role = c.Role
	}
	if c.Disabled != nil {
		next.Disabled = *c.Disabled
	}
	next.UpdatedAt = c.At
	if err := ValidateUser(&next); err != nil {
		return err
	}
	s.users[c.Name] = &next
	if c.PasswordHash != "" || next.Disabled {
		s.endSessions(c.Name)
	}
	return nil
}

func applyDeleteUser(s *state, c *DeleteUser, _ uint64) error {
	if _, ok := s.users[c.Name]; !ok {
		return errorf(ErrNotFound, "user %q not found", c.Name)
	}
	delete(s.users, c.Name)
	s.endSessions(c.Name)
	s.unbindUser(c.Name)
	return nil
}

func applyCreateSession(s *state, c *CreateSession, _ uint64) error {
	ses := c.Session
	if ses.ID == "" || ses.Hash == "" {
		return errorf(ErrInvalid, "session id and hash are required")
	}
	if err := s.checkSessionUser(&ses); err != nil {
		return err
	}
	if _, dup := s.sessions[ses.ID]; dup {
		return errorf(ErrConflict, "session %q already exists", ses.ID)
	}
	if _, dup := s.sessionByHash[ses.Hash]; dup {
		return errorf(ErrConflict, "a session with this secret already exists")
	}
	if mine := s.sessionsOf(ses.User); len(mine) >= MaxSessionsPerUser {
		s.dropSession(mine[0].ID) // the oldest
	}
	s.sessions[ses.ID] = &ses
	s.sessionByHash[ses.Hash] = ses.ID
	return nil
}

func applyRevokeSession(s *state, c *RevokeSession, _ uint64) error {
	if _, ok := s.sessions[c.ID]; !ok {
		return errorf(ErrNotFound, "session %q not found", c.ID)
	}
	s.dropSession(c.ID)
	return nil
}

func applyRefreshSession(s *state, c *RefreshSession, _ uint64) error {
	ses, ok := s.sessions[c.ID]
	if !ok {
		return errorf(ErrNotFound, "session %q not found", c.ID)
	}
	if c.ExpiresAt.After(ses.ExpiresAt) {
		next := *ses
		next.ExpiresAt = c.ExpiresAt
		s.sessions[c.ID] = &next
	}
	return nil
}

// sessionsOf returns a user's sessions, oldest first.
func (s *state) sessionsOf(user string) []*Session {
	var out []*Session
	for _, ses := range s.sessions {
		if ses.User == user {
			out = append(out, ses)
		}
	}
	slices.SortFunc(out, func(a, b *Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (s *state) dropSession(id string) {
	if ses, ok := s.sessions[id]; ok {
		delete(s.sessionByHash, ses.Hash)
		delete(s.sessions, id)
	}
}

func (s *state) endSessions(user string) {
	for _, ses := range s.sessionsOf(user) {
		s.dropSession(ses.ID)
	}
}

// Users returns every user, by name.
func (f *FSM) Users() []User {
	f.mu.RLock()
	out := make([]User, 0, len(f.s.users))
	for _, u := range f.s.users {
		out = append(out, *u)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// User returns one user.
func (f *FSM) User(name string) (User, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u, ok := f.s.users[name]
	if !ok {
		return User{}, errorf(ErrNotFound, "user %q not found", name)
	}
	return *u, nil
}

// Session returns one session.
func (f *FSM) Session(id string) (Session, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ses, ok := f.s.sessions[id]
	if !ok {
		return Session{}, errorf(ErrNotFound, "session %q not found", id)
	}
	return *ses, nil
}

// SessionByHash returns the session whose secret hashes to hash.
func (f *FSM) SessionByHash(hash string) (Session, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	id, ok := f.s.sessionByHash[hash]
	if !ok {
		return Session{}, errorf(ErrNotFound, "session not found")
	}
	return *f.s.sessions[id], nil
}

// Sessions returns a user's sessions, oldest first; every user's when user
// is empty.
func (f *FSM) Sessions(user string) []Session {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Session
	for _, ses := range f.s.sessions {
		if user == "" || ses.User == user {
			out = append(out, *ses)
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// checkSessionUser refuses a session of a user that is gone or disabled; an
// OIDC session has no user record, only bounded groups.
func (s *state) checkSessionUser(ses *Session) error {
	if ses.Provider == ProviderOIDC {
		if !strings.HasPrefix(ses.User, ProviderOIDC+":") || len(ses.User) > MaxNameLen+len(ProviderOIDC)+1 {
			return errorf(ErrInvalid, "an OIDC session's user is oidc:NAME, got %q", ses.User)
		}
		if len(ses.Groups) > MaxSessionGroups {
			return errorf(ErrInvalid, "an OIDC session holds at most %d groups, got %d", MaxSessionGroups, len(ses.Groups))
		}
		for _, g := range ses.Groups {
			if g == "" || len(g) > maxGroupName {
				return errorf(ErrInvalid, "an OIDC group name is 1 to %d bytes", maxGroupName)
			}
		}
		return nil
	}
	if len(ses.Groups) > 0 || ses.Provider != "" {
		return errorf(ErrInvalid, "only an OIDC session carries a provider and groups")
	}
	u, ok := s.users[ses.User]
	switch {
	case !ok:
		return errorf(ErrNotFound, "user %q not found", ses.User)
	case u.Disabled:
		return errorf(ErrState, "user %q is disabled", ses.User)
	}
	return nil
}
