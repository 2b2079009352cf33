package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil/browser"
)

// uiTimeout bounds one step of a browser test: a page, a click, a change
// seen without a reload.
const uiTimeout = 30 * time.Second

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

// uiLogin opens a's dashboard and signs in with the form, as a person does.
func uiLogin(t *testing.T, ctx context.Context, a *agent, user, password string) {
	t.Helper()
	browser.Do(t, ctx, uiTimeout, "sign in as "+user,
		chromedp.Navigate(a.addr()+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), user),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("header.top .brand")),
	)
	uiWaitFor(t, ctx, "the event stream to be live", `document.querySelector(".conn.live") !== null`)
}

// uiGo navigates within the page (no reload), as a click on a link does.
func uiGo(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	browser.Eval[bool](t, ctx, fmt.Sprintf(`(history.pushState(null, "", %q), dispatchEvent(new PopStateEvent("popstate")), true)`, path))
}

// uiWaitFor waits until expr is true in the page.
func uiWaitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	browser.WaitTrue(t, ctx, uiTimeout, what, expr)
}

// uiMarkReload puts a mark in the page's window that a reload would erase:
// a test checks it afterwards to prove that what it saw came live.
func uiMarkReload(t *testing.T, ctx context.Context) {
	t.Helper()
	browser.Eval[bool](t, ctx, `(window.__noReload = true)`)
}

func uiNotReloaded(t *testing.T, ctx context.Context) {
	t.Helper()
	if !browser.Eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the page was reloaded")
	}
}
