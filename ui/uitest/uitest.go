// Package uitest drives the dashboard in a browser for the e2e and lab
// tests: signing in as a person does, moving between pages without a
// reload, waiting for what the page shows, and checking that what changed
// came live (no reload) and that every control is labelled.
package uitest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/novacron/novacron/internal/testutil/browser"
)

// Timeout bounds one step: a page, a click, a change seen without a reload.
const Timeout = 30 * time.Second

// SignIn opens the dashboard at base (https://node:port) and signs in with
// a user's password through the form.
func SignIn(t testing.TB, ctx context.Context, base, user, password string) {
	t.Helper()
	browser.Do(t, ctx, Timeout, "sign in as "+user,
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), user),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("header.top .brand")),
	)
	WaitFor(t, ctx, "the event stream to be live", `document.querySelector(".conn.live") !== null`)
}

// SignInWithKey signs in with an API key (the form's "Use an API key").
func SignInWithKey(t testing.TB, ctx context.Context, base, key string) {
	t.Helper()
	browser.Do(t, ctx, Timeout, "sign in with an API key",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(".login details summary")),
		chromedp.Click(chromedp.CSS(".login details summary")),
		chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), key),
		chromedp.Click(chromedp.CSS(".login details button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header.top .brand")),
	)
	WaitFor(t, ctx, "the event stream to be live", `document.querySelector(".conn.live") !== null`)
}

// Go moves to path within the page (no reload), as a click on a link does.
func Go(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	browser.Eval[bool](t, ctx, fmt.Sprintf(`(history.pushState(null, "", %q), dispatchEvent(new PopStateEvent("popstate")), true)`, path))
}

// WaitFor waits until expr is true in the page (Timeout).
func WaitFor(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	browser.WaitTrue(t, ctx, Timeout, what, expr)
}

// MarkReload puts a mark in the page's window that a reload would erase;
// NotReloaded then proves that what the test saw came live.
func MarkReload(t testing.TB, ctx context.Context) {
	t.Helper()
	browser.Eval[bool](t, ctx, `(window.__noReload = true)`)
}

// NotReloaded fails t if the page was reloaded since MarkReload.
func NotReloaded(t testing.TB, ctx context.Context) {
	t.Helper()
	if !browser.Eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the page was reloaded")
	}
}

// AllLabelled fails t for each control of the page without an accessible
// name (its text, aria-label, or a label) or out of the keyboard's reach.
func AllLabelled(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	bad := browser.Eval[[]string](t, ctx, `[...document.querySelectorAll("button, a[href], input, select, textarea")].filter((el) => {
		if (el.closest("[hidden]") || el.type === "hidden" || el.closest(".xterm")) return false;
		const named = (el.getAttribute("aria-label") || el.textContent || "").trim() !== "" || (el.labels && el.labels.length > 0);
		return !named || el.tabIndex < 0;
	}).map((el) => el.outerHTML.slice(0, 120))`)
	for _, b := range bad {
		t.Errorf("%s: a control without a name or out of the keyboard's reach: %s", page, b)
	}
}

// AcknowledgeFromOverview waits (up to timeout) for alert id to show as
// firing on the overview the page shows, screenshots it as shot, follows
// the overview's link to the alerts and acknowledges it there, and waits
// until the page shows it acknowledged.
func AcknowledgeFromOverview(t testing.TB, ctx context.Context, id string, timeout time.Duration, shot string) {
	t.Helper()
	row := fmt.Sprintf(`tr[data-alert=%q]`, id)
	browser.WaitTrue(t, ctx, timeout, "alert "+id+" in the overview", fmt.Sprintf(`document.querySelector(%q) !== null`, "#firing-alerts "+row))
	browser.Screenshot(t, ctx, shot)
	browser.Do(t, ctx, Timeout, "acknowledge "+id,
		chromedp.Click(chromedp.CSS(`#firing-alerts a[href="/ui/alerts"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+` button.ack`)),
		chromedp.Click(chromedp.CSS(row+` button.ack`)),
	)
	WaitFor(t, ctx, "alert "+id+" acknowledged", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === "acknowledged"`, row))
}
