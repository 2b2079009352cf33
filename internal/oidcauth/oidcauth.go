// Package oidcauth checks identity tokens of an OpenID Connect provider
// (--oidc-issuer) for logins: the signature against the provider's keys,
// the issuer, the audience (--oidc-client-id), the expiry; and reads the
// user's name and groups from the claims. The provider's discovery document
// and keys are fetched on first use, not at the agent's start, so an agent
// starts while its provider is down (logins through it wait, or fail with a
// clear error, until it answers).
package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Config names the provider and the claims NovaCron reads.
type Config struct {
	// Issuer is the provider's issuer URL: https, or http on a loopback
	// address only (a provider in the same host, as in tests).
	Issuer string
	// ClientID is NovaCron's client at the provider; an ID token must name
	// it in its audience.
	ClientID string
	// UsernameClaim holds the user's name (default preferred_username);
	// GroupsClaim the groups the provider puts the user in (default groups).
	UsernameClaim, GroupsClaim string
}

// Validate checks the configuration an agent starts with.
func (c Config) Validate() error {
	if c.Issuer == "" || c.ClientID == "" {
		return errors.New("--oidc-issuer and --oidc-client-id go together")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--oidc-issuer %q is not a URL", c.Issuer)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return fmt.Errorf("--oidc-issuer %q: an issuer must be https (http only on a loopback address)", c.Issuer)
}

func (c Config) withDefaults() Config {
	if c.UsernameClaim == "" {
		c.UsernameClaim = "preferred_username"
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	return c
}

// Identity is who a valid ID token says the user is.
type Identity struct {
	Name   string
	Groups []string
	Expiry time.Time
}

// ErrInvalidToken is an ID token that does not verify (signature, issuer,
// audience, expiry, or a missing claim).
var ErrInvalidToken = errors.New("invalid OIDC identity token")

// Verifier checks ID tokens of one provider.
type Verifier struct {
	cfg Config
	// now is the clock tokens are checked against (a test's).
	now func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// New returns a Verifier of cfg; the provider is reached on first use.
func New(cfg Config) *Verifier {
	return &Verifier{cfg: cfg.withDefaults(), now: time.Now}
}

// Issuer and ClientID are what a CLI needs to log in (the device flow).
func (v *Verifier) Issuer() string   { return v.cfg.Issuer }
func (v *Verifier) ClientID() string { return v.cfg.ClientID }

// idVerifier fetches the provider's discovery document once it answers.
func (v *Verifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	p, err := oidc.NewProvider(ctx, v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the OIDC provider %s does not answer: %w", v.cfg.Issuer, err)
	}
	v.verifier = p.Verifier(&oidc.Config{ClientID: v.cfg.ClientID, Now: v.now})
	return v.verifier, nil
}

// Maximum sizes of what a token may claim.
const (
	maxGroups    = 64
	maxGroupName = 128
	maxRawToken  = 16 << 10
)

// Verify checks raw and returns the identity it carries. A token that does
// not verify is ErrInvalidToken with the reason; a provider that does not
// answer is another error.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if len(raw) > maxRawToken {
		return Identity{}, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidToken, len(raw), maxRawToken)
	}
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := iv.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	name, _ := claims[v.cfg.UsernameClaim].(string)
	if name == "" {
		return Identity{}, fmt.Errorf("%w: it has no %q claim naming the user", ErrInvalidToken, v.cfg.UsernameClaim)
	}
	id := Identity{Name: name, Expiry: tok.Expiry}
	switch g := claims[v.cfg.GroupsClaim].(type) {
	case nil:
	case []any:
		if len(g) > maxGroups {
			return Identity{}, fmt.Errorf("%w: %d groups, at most %d", ErrInvalidToken, len(g), maxGroups)
		}
		for _, x := range g {
			s, ok := x.(string)
			if !ok || s == "" || len(s) > maxGroupName {
				return Identity{}, fmt.Errorf("%w: claim %q holds a group that is not a name of 1 to %d bytes", ErrInvalidToken, v.cfg.GroupsClaim, maxGroupName)
			}
			id.Groups = append(id.Groups, s)
		}
	default:
		return Identity{}, fmt.Errorf("%w: claim %q is not a list of group names", ErrInvalidToken, v.cfg.GroupsClaim)
	}
	return id, nil
}
