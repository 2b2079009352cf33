package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/novacron/novacron/api/client"
)

// loginOIDC logs in through the cluster's OIDC provider with the device
// flow (RFC 8628): the CLI asks the provider for a code, the user opens the
// address it prints (on any device) and approves, the CLI receives the
// tokens and trades the ID token for a NovaCron session.
func (a *app) loginOIDC(ctx context.Context, c *client.Client) (*client.Login, error) {
	conf, err := c.OIDCConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("the cluster's OIDC provider: %w", err)
	}
	provider, err := oidc.NewProvider(ctx, conf.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the OIDC provider %s: %w", conf.Issuer, err)
	}
	var meta struct {
		DeviceEndpoint string `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.DeviceEndpoint == "" {
		return nil, fmt.Errorf("the OIDC provider %s offers no device flow (no device_authorization_endpoint in its discovery document)", conf.Issuer)
	}
	ep := provider.Endpoint()
	ep.DeviceAuthURL = meta.DeviceEndpoint
	oc := &oauth2.Config{ClientID: conf.ClientID, Endpoint: ep, Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"}}
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the OIDC provider for a device code: %w", err)
	}
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(a.stderr, "Open %s to log in (code %s).\n", da.VerificationURIComplete, da.UserCode)
	} else {
		fmt.Fprintf(a.stderr, "Open %s and enter the code %s to log in.\n", da.VerificationURI, da.UserCode)
	}
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("waiting for the login at the OIDC provider: %w", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		return nil, errors.New("the OIDC provider answered no id_token (is the openid scope allowed for this client?)")
	}
	return c.LoginOIDC(ctx, idToken)
}
