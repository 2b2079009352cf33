package client

import (
	"context"
	"net/http"
	"time"
)

// JoinTokenRequest is the body of POST /api/v1/join-tokens.
type JoinTokenRequest struct {
	// TTL is how long the token stays usable, such as "1h" (1h when empty).
	TTL string `json:"ttl,omitempty"`
	// Uses is how many hosts it may enroll (1 when zero).
	Uses int `json:"uses,omitempty"`
}

// JoinToken is an outstanding join token. Token, the string a new host
// passes to `novacron agent --join-token`, is shown once, when it is created.
type JoinToken struct {
	ID        string    `json:"id"`
	Token     string    `json:"token,omitempty"`
	UsesLeft  int       `json:"uses_left"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Enrolled names the nodes enrolled with it so far.
	Enrolled []string `json:"enrolled"`
}

// CreateJoinToken makes a join token (POST /api/v1/join-tokens).
func (c *Client) CreateJoinToken(ctx context.Context, req JoinTokenRequest) (*JoinToken, error) {
	var out JoinToken
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/join-tokens", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JoinTokens lists the outstanding join tokens (GET /api/v1/join-tokens).
func (c *Client) JoinTokens(ctx context.Context) ([]JoinToken, error) {
	return listAll[JoinToken](ctx, c, apiPrefix+"/join-tokens", nil)
}

// RevokeJoinToken removes a join token before it is used up
// (DELETE /api/v1/join-tokens/{id}).
func (c *Client) RevokeJoinToken(ctx context.Context, id string) (*JoinToken, error) {
	if err := requireID("join token", id); err != nil {
		return nil, err
	}
	var out JoinToken
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/join-tokens/%s", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
