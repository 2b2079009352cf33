// Package oidctest runs a real OpenID Connect provider in a test process
// (oauth2-proxy/mockoidc) with the device flow (RFC 8628) added, which
// mockoidc lacks: `novacron login --oidc` uses it. The provider's own
// authorization-code flow mints every token, so what NovaCron verifies is
// what a real provider signs.
package oidctest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// Provider is a running mockoidc with a device endpoint.
type Provider struct {
	*mockoidc.MockOIDC
	device *httptest.Server

	mu sync.Mutex
	// polls counts each device code's token requests: the first answers
	// authorization_pending, as while the user has not approved yet.
	polls map[string]int
	// users waits per device code for the user who approves it.
	users map[string]mockoidc.User
}

// redirectURI is where the code flow sends its code; nothing listens there,
// the redirect is read, not followed.
const redirectURI = "http://127.0.0.1:1/callback"

// Start runs a provider until the test ends.
func Start(tb testing.TB) *Provider {
	tb.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Provider{MockOIDC: m, polls: map[string]int{}, users: map[string]mockoidc.User{}}
	p.device = httptest.NewServer(http.HandlerFunc(p.deviceAuthorization))
	if err := m.AddMiddleware(p.middleware); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.device.Close()
		_ = m.Shutdown()
	})
	return p
}

// ApproveNext makes the next device login approved as user.
func (p *Provider) ApproveNext(user mockoidc.User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[""] = user
}

// User is a provider user with a username and groups.
func User(name string, groups ...string) mockoidc.User {
	return &mockoidc.MockUser{Subject: "sub-" + name, PreferredUsername: name, Email: name + "@example.com", Groups: groups}
}

// IDToken logs user in with the provider's code flow and returns the ID
// token it signs.
func (p *Provider) IDToken(tb testing.TB, user mockoidc.User) string {
	tb.Helper()
	p.QueueUser(user)
	code, err := p.authorize()
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := p.exchange(code)
	if err != nil {
		tb.Fatal(err)
	}
	return tok["id_token"].(string)
}

// authorize runs the provider's authorization endpoint and returns the code
// of its redirect.
func (p *Provider) authorize() (string, error) {
	cfg := p.Config()
	q := url.Values{"client_id": {cfg.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid profile email groups"}, "state": {"s"}, "nonce": {"n"}}
	rec := httptest.NewRecorder()
	p.Authorize(rec, httptest.NewRequest(http.MethodGet, p.AuthorizationEndpoint()+"?"+q.Encode(), nil))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", &url.Error{Op: "authorize", URL: p.AuthorizationEndpoint(), Err: errNoCode(rec.Body.String())}
	}
	return loc.Query().Get("code"), nil
}

type errNoCode string

func (e errNoCode) Error() string { return "no code in the redirect: " + string(e) }

// exchange trades a code for the provider's tokens at its token endpoint.
func (p *Provider) exchange(code string) (map[string]any, error) {
	cfg := p.Config()
	resp, err := http.PostForm(p.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}, "redirect_uri": {redirectURI}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// deviceAuthorization is the device endpoint: a device code and a user code.
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.FormValue("client_id") != p.Config().ClientID {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusBadRequest)
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	dc := hex.EncodeToString(b)
	p.mu.Lock()
	p.users[dc] = p.users[""]
	delete(p.users, "")
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"device_code": dc, "user_code": "WDJB-MJHT",
		"verification_uri": p.device.URL + "/activate", "expires_in": 300, "interval": 1})
}

// middleware adds the device endpoint to the discovery document and
// answers the device-code grant at the token endpoint: pending on the first
// poll, then the tokens of the user who approved, minted by the provider's
// own code flow.
func (p *Provider) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A browser's sign-in (the dashboard) reads the discovery document
		// and trades its code from another origin, as public clients do:
		// the provider allows it (CORS), and takes PKCE's code_verifier in
		// place of the client secret that a page cannot keep.
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		if strings.HasSuffix(r.URL.Path, mockoidc.TokenEndpoint) && r.FormValue("grant_type") == "authorization_code" &&
			r.FormValue("code_verifier") != "" && r.FormValue("client_secret") == "" {
			r.Form.Set("client_secret", p.ClientSecret)
			r.PostForm.Set("client_secret", p.ClientSecret)
		}
		switch {
		case strings.HasSuffix(r.URL.Path, mockoidc.DiscoveryEndpoint):
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			doc["device_authorization_endpoint"] = p.device.URL + "/device"
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
		case strings.HasSuffix(r.URL.Path, mockoidc.TokenEndpoint) && r.FormValue("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
			p.deviceToken(w, r, next)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (p *Provider) deviceToken(w http.ResponseWriter, r *http.Request, token http.Handler) {
	dc := r.FormValue("device_code")
	p.mu.Lock()
	user, ok := p.users[dc]
	p.polls[dc]++
	first := p.polls[dc] == 1
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case !ok || user == nil:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"expired_token"}`))
		return
	case first:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"authorization_pending"}`))
		return
	}
	p.QueueUser(user)
	code, err := p.authorize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	cfg := p.Config()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {cfg.ClientID},
		"client_secret": {cfg.ClientSecret}, "redirect_uri": {redirectURI}}
	req := httptest.NewRequest(http.MethodPost, r.URL.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	token.ServeHTTP(w, req)
}
