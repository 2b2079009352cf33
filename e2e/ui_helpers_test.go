package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil/browser"
)

// uiBrowser starts Chromium trusting the test cluster's node certificates
// (and no other unknown certificate).
func uiBrowser(t *testing.T, c *testCluster) context.Context {
	t.Helper()
	var certs []string
	for _, a := range c.agents {
		certs = append(certs, filepath.Join(a.cfg.tlsDir, a.name+".pem"))
	}
	return browser.New(t, browser.Options{TrustCerts: certs})
}

// uiUser makes a user with a password and a cluster-wide role.
func uiUser(t *testing.T, c *testCluster, name, role string) string {
	t.Helper()
	password := "pw-" + randomToken(t)[:16]
	if _, err := c.agents[0].client(c.token).CreateUser(context.Background(), client.UserRequest{Name: name, Password: password, Role: role}); err != nil {
		t.Fatalf("creating user %s: %v", name, err)
	}
	return password
}
