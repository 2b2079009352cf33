package client

import (
	"context"
	"net/http"
)

// Tokens lists the API tokens, without their secrets (GET /api/v1/tokens),
// every page.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	return listAll[Token](ctx, c, apiPrefix+"/tokens", nil)
}

// CreateToken creates an API token (POST /api/v1/tokens). The answer is the only
// place its Secret ever appears: the cluster keeps just a hash.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (*Token, error) {
	var out Token
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/tokens", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeToken removes a token by ID (DELETE /api/v1/tokens/{id}) and returns it as
// it was; requests carrying it are refused from then on.
func (c *Client) RevokeToken(ctx context.Context, id string) (*Token, error) {
	if err := requireID("token", id); err != nil {
		return nil, err
	}
	var out Token
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/tokens/%s", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Token returns one token by ID, without its secret (GET /api/v1/tokens/{id}).
// The ID "self" names the token the request carries; any role may read it.
func (c *Client) Token(ctx context.Context, id string) (*Token, error) {
	if err := requireID("token", id); err != nil {
		return nil, err
	}
	var out Token
	if err := c.get(ctx, pathf(apiPrefix+"/tokens/%s", id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
