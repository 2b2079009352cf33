package client

import (
	"context"
	"net/http"
	"time"
)

// User is a person (or a script) who logs in with a password (issue 14).
type User struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UserRequest is the body of POST /api/v1/users (Name and Password
// required) and of PUT /api/v1/users/{name} (only what is set changes).
type UserRequest struct {
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	Role     string `json:"role,omitempty"`
	Disabled *bool  `json:"disabled,omitempty"`
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// Login is the answer of POST /api/v1/login: a session token to send as
// "Authorization: Bearer <token>", until ExpiresAt (which moves forward while
// the session is used).
type Login struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      string    `json:"user"`
	Role      string    `json:"role"`
}

// Session is one login of a user, without its secret.
type Session struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Current marks the session the request was made with.
	Current bool `json:"current,omitempty"`
}

// Users lists the users, every page.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	return listAll[User](ctx, c, apiPrefix+"/users", nil)
}

// CreateUser makes a user.
func (c *Client) CreateUser(ctx context.Context, req UserRequest) (*User, error) {
	var out User
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/users", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser changes a user's password, role or disabled flag.
func (c *Client) UpdateUser(ctx context.Context, name string, req UserRequest) (*User, error) {
	if err := requireID("user", name); err != nil {
		return nil, err
	}
	var out User
	if err := c.do(ctx, http.MethodPut, pathf(apiPrefix+"/users/%s", name), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser removes a user and ends its sessions.
func (c *Client) DeleteUser(ctx context.Context, name string) (*User, error) {
	if err := requireID("user", name); err != nil {
		return nil, err
	}
	var out User
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/users/%s", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Login checks a user's password and returns a new session token. It needs
// no token of its own.
func (c *Client) Login(ctx context.Context, user, password string) (*Login, error) {
	var out Login
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/login", nil, LoginRequest{User: user, Password: password}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout ends the session the Client's token is.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, apiPrefix+"/logout", nil, nil, nil)
}

// Sessions lists the caller's own sessions (a user's login), or with user
// set (an admin) that user's.
func (c *Client) Sessions(ctx context.Context, user string) ([]Session, error) {
	q := map[string][]string{}
	if user != "" {
		q["user"] = []string{user}
	}
	return listAll[Session](ctx, c, apiPrefix+"/sessions", q)
}

// RevokeSession ends one session: the caller's own, or (an admin) anyone's.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	if err := requireID("session", id); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/sessions/%s", id), nil, nil, nil)
}

// Whoami is the answer of GET /api/v1/whoami: the request's credential.
type Whoami struct {
	// Kind is "token" (an API key) or "session" (a user's login).
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Name is the key's name; User the user behind the key or session.
	Name string `json:"name,omitempty"`
	User string `json:"user,omitempty"`
	// Role is the user's cluster role (empty: none); Projects its role in
	// each project that binds it.
	Role     string              `json:"role"`
	Projects map[string][]string `json:"projects,omitempty"`
	// KeyRole and KeyProject bound a key: its role, in its project (empty:
	// the whole cluster).
	KeyRole    string     `json:"key_role,omitempty"`
	KeyProject string     `json:"key_project,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// Whoami returns who the Client's token is.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var out Whoami
	if err := c.get(ctx, apiPrefix+"/whoami", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CanI is the answer of GET /api/v1/auth/can-i: whether the request's
// credential has Perm, and why.
type CanI struct {
	Perm    string `json:"perm"`
	Project string `json:"project,omitempty"`
	Role    string `json:"role"`
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
}

// CanI asks whether the Client's credential has perm ("vm:write"), in the
// Client's project when it has one.
func (c *Client) CanI(ctx context.Context, perm string) (*CanI, error) {
	var out CanI
	if err := c.get(ctx, apiPrefix+"/auth/can-i", map[string][]string{"perm": {perm}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OIDCConfig is the answer of GET /api/v1/auth/oidc: the provider a CLI
// logs in through, and NovaCron's client there.
type OIDCConfig struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
}

// OIDCLoginRequest is the body of POST /api/v1/login/oidc.
type OIDCLoginRequest struct {
	IDToken string `json:"id_token"`
}

// OIDCConfig returns the cluster's OIDC provider; 404 when it has none.
func (c *Client) OIDCConfig(ctx context.Context) (*OIDCConfig, error) {
	var out OIDCConfig
	if err := c.get(ctx, apiPrefix+"/auth/oidc", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LoginOIDC trades an ID token of the cluster's OIDC provider for a session.
func (c *Client) LoginOIDC(ctx context.Context, idToken string) (*Login, error) {
	var out Login
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/login/oidc", nil, OIDCLoginRequest{IDToken: idToken}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
