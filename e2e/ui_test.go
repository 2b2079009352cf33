package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/oidctest"
	"github.com/novacron/novacron/internal/testutil/browser"
	"github.com/novacron/novacron/ui/uitest"
)

// The dashboard, in a real Chromium, against a real 3-agent cluster (sim
// hosts): a user signs in, creates a VM and sees it run without a reload,
// sees its CPU chart draw, migrates it and watches the migration end at
// 100 %, and drains a node; a viewer sees no action it may not use, and
// a forged one is refused with the API's message; and a page whose node
// stops says it is reconnecting, then shows what it missed.
func TestUI_DashboardDrivesTheCluster(t *testing.T) {
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) {
		// Samples every second, and a host's failure found in seconds.
		cfg.extra = append(cfg.extra, "--metrics-interval", "1s", "--fence-timeout", "2s", "--heartbeat-interval", "250ms")
	})
	password := uiUser(t, c, "ada", "cluster-admin")
	ctx := uiBrowser(t, c)
	n1 := c.agents[0]
	uitest.SignIn(t, ctx, n1.addr(), "ada", password)
	uitest.WaitFor(t, ctx, "the overview names the leader", `/^n[123]$/.test(document.querySelector("#health .big")?.textContent || "")`)
	browser.Screenshot(t, ctx, "overview")
	uitest.AllLabelled(t, ctx, "overview")
	uitest.MarkReload(t, ctx)

	// Create a VM through the form; its page shows it running once its
	// host reports it, without a reload.
	uitest.Go(t, ctx, "/ui/vms")
	browser.Do(t, ctx, uitest.Timeout, "open the create form",
		chromedp.Click(chromedp.ID("create-vm")),
		chromedp.WaitVisible(chromedp.ID("vm-name")),
		chromedp.SendKeys(chromedp.ID("vm-name"), "web-1"),
		chromedp.SetValue(chromedp.ID("vm-memory"), "256"),
		chromedp.SetValue(chromedp.ID("vm-disk"), "1"),
		chromedp.SendKeys(chromedp.ID("vm-hostname"), "web-1"),
		chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)),
	)
	uitest.WaitFor(t, ctx, "the new VM's page shows it running", `document.querySelector("h1")?.dataset.state === "running"`)
	uitest.WaitFor(t, ctx, "its CPU chart draws points", `+(document.querySelector('[data-field="cpu_percent"]')?.dataset.points || 0) > 0`)
	browser.Screenshot(t, ctx, "vm")
	uitest.AllLabelled(t, ctx, "the VM page")

	// Migrate it; the migration's progress reaches 100 % on the page.
	browser.Do(t, ctx, uitest.Timeout, "migrate the VM",
		chromedp.Click(chromedp.ID("action-migrate")),
		chromedp.WaitVisible(chromedp.ID("migrate-target")),
		// Sim hosts in separate agents move VMs cold only.
		chromedp.SetValue(chromedp.ID("migrate-mode"), "cold"),
		chromedp.Click(chromedp.ID("migrate-go")),
	)
	uitest.WaitFor(t, ctx, "the migration ends at 100 %", `[...document.querySelectorAll("tr[data-migration] .progress")].some((td) => td.textContent.startsWith("100 %")) && [...document.querySelectorAll("tr[data-migration] .badge")].some((b) => b.textContent === "completed")`)

	// Drain a node that runs no VM (sim hosts in separate agents move VMs
	// cold only, and a drain moves them live; the lab drains real hosts);
	// the page says when it is drained.
	vm, err := n1.client(c.token).VM(context.Background(), "web-1")
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	for _, a := range c.agents {
		if n, err := n1.client(c.token).Node(context.Background(), a.name); err == nil && n.ID != vm.Node {
			empty = n.ID
			break
		}
	}
	uitest.Go(t, ctx, "/ui/nodes/"+empty)
	browser.Do(t, ctx, uitest.Timeout, "drain the node", chromedp.Click(chromedp.ID("drain")))
	uitest.WaitFor(t, ctx, "the node is drained", `(document.querySelector("#drain-status")?.textContent || "").startsWith("Drained")`)
	browser.Screenshot(t, ctx, "node-drained")
	uitest.NotReloaded(t, ctx)

	// Every page of the menu draws, without an error, every control named.
	for _, path := range []string{"/ui/", "/ui/nodes", "/ui/vms", "/ui/migrations", "/ui/operations", "/ui/failovers", "/ui/alerts", "/ui/events", "/ui/audit", "/ui/settings", "/ui/admin"} {
		uitest.Go(t, ctx, path)
		uitest.WaitFor(t, ctx, path+" drawn", `document.getElementById("main").dataset.page !== ""`)
		if got := browser.Eval[string](t, ctx, `document.getElementById("main").dataset.page + " " + (document.querySelector("main .error-box:not([hidden])")?.textContent || "")`); strings.HasPrefix(got, "error") {
			t.Errorf("%s: %s", path, got)
		}
		uitest.AllLabelled(t, ctx, path)
	}

	t.Run("viewer", func(t *testing.T) {
		viewerPassword := uiUser(t, c, "vic", "viewer")
		tab := browser.NewTab(t, ctx) // a tab of its own: its own session
		uitest.SignIn(t, tab, n1.addr(), "vic", viewerPassword)
		uitest.Go(t, tab, "/ui/vms/"+vm.ID)
		uitest.WaitFor(t, tab, "the VM page", `document.querySelector("h1")?.dataset.state === "running"`)
		if n := browser.Eval[int](t, tab, `document.querySelectorAll('[id^="action-"], #create-vm, #drain').length`); n != 0 {
			t.Errorf("a viewer sees %d action buttons", n)
		}
		// A forged stop, sent with the viewer's session through the page's
		// own API client: refused, with the API's own words.
		msg := browser.Eval[string](t, tab, `import("/ui/js/api.js").then((api) => api.post("/api/v1/vms/`+vm.ID+`/stop").then(() => "accepted", (e) => e.status + " " + e.message))`)
		if !strings.HasPrefix(msg, "403 ") || !strings.Contains(msg, "vm:write") {
			t.Errorf("a viewer's forged stop: %q, want 403 with the API's message naming vm:write", msg)
		}
		// The settings form, which a viewer sees disabled and without a
		// button, forged back to life (as in the browser's developer
		// tools): the page shows the API's refusal.
		uitest.Go(t, tab, "/ui/settings")
		uitest.WaitFor(t, tab, "the settings page", `document.getElementById("main").dataset.page === "settings"`)
		if n := browser.Eval[int](t, tab, `document.querySelectorAll("main form button[type=submit]").length`); n != 0 {
			t.Errorf("a viewer sees %d save buttons", n)
		}
		browser.Eval[bool](t, tab, `(document.querySelectorAll("main form [disabled]").forEach((el) => el.disabled = false), document.getElementById("set-strategy").value = "binpack", document.querySelector("main form").requestSubmit(), true)`)
		uitest.WaitFor(t, tab, "the API's refusal shown", `(document.querySelector("main .error-box:not([hidden])")?.textContent || "").includes("settings:write")`)

		// Its session revoked (by an admin), the page asks to sign in again
		// instead of breaking.
		sessions, err := n1.client(c.token).Sessions(context.Background(), "vic")
		if err != nil || len(sessions) == 0 {
			t.Fatalf("vic's sessions: %v, %v", sessions, err)
		}
		for _, s := range sessions {
			if err := n1.client(c.token).RevokeSession(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
		}
		uitest.Go(t, tab, "/ui/vms")
		uitest.WaitFor(t, tab, "the sign-in prompt over the page", `document.querySelector("dialog[open] #login-user") !== null`)
		browser.Screenshot(t, tab, "session-ended")
	})

	t.Run("reconnects", func(t *testing.T) {
		n2 := c.agents[1]
		tab := browser.NewTab(t, ctx)
		uitest.SignIn(t, tab, n2.addr(), "ada", password)
		uitest.Go(t, tab, "/ui/vms")
		uitest.WaitFor(t, tab, "the VM list", `document.querySelector('[data-vm="web-1"]') !== null`)
		uitest.AllLabelled(t, tab, "the VM list")
		uitest.MarkReload(t, tab)
		n2.kill()
		uitest.WaitFor(t, tab, "the page says it is reconnecting", `!document.querySelector(".banner.offline").hidden && document.querySelector(".banner.offline").textContent.includes("Reconnecting")`)
		browser.Screenshot(t, tab, "reconnecting")
		if _, err := n1.client(c.token).CreateVM(context.Background(), client.VMRequest{Name: "made-while-away", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}); err != nil {
			t.Fatal(err)
		}
		n2.start()
		uitest.WaitFor(t, tab, "the page is live again", `document.querySelector(".banner.offline").hidden`)
		uitest.WaitFor(t, tab, "the VM made while it was away", `document.querySelector('[data-vm="made-while-away"]') !== null`)
		uitest.NotReloaded(t, tab)
	})

	t.Run("alert", func(t *testing.T) {
		// Neither the page's node nor the leader: the alert must not wait
		// for an election.
		leader := c.leader()
		var victim *agent
		for _, a := range c.agents[1:] {
			if a != leader {
				victim = a
				break
			}
		}
		uitest.Go(t, ctx, "/ui/")
		uitest.WaitFor(t, ctx, "the overview", `document.getElementById("health") !== null`)
		uitest.MarkReload(t, ctx)
		vn, err := n1.client(c.token).Node(context.Background(), victim.name)
		if err != nil {
			t.Fatal(err)
		}
		victim.kill()
		uitest.AcknowledgeFromOverview(t, ctx, "host_failed:node:"+vn.ID, uitest.Timeout, "overview-alert")
		uitest.NotReloaded(t, ctx)
		alerts, err := n1.client(c.token).Alerts(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Rule == "host_failed" && a.ObjectName == victim.name && (a.State != "acknowledged" || a.AckedBy != "ada") {
				t.Errorf("the API shows the alert %s by %q, want acknowledged by ada", a.State, a.AckedBy)
			}
		}
	})
}

// The dashboard's files: the page itself for any path under /ui/, the
// security headers on every answer, gzip when asked, and 404 for a file
// that does not exist.
func TestUI_ServedWithItsPolicy(t *testing.T) {
	c := startCluster(t, 1, nil)
	a := c.agents[0]
	hc := testHTTPClient(t)
	for _, path := range []string{"/ui/", "/ui/vms/some-vm", "/ui/js/app.js"} {
		resp, err := hc.Get(a.addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, headers %v", path, resp.StatusCode, resp.Header)
		}
	}
	resp, err := hc.Get(a.addr() + "/ui/js/nothing.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("a file that is not there: %d", resp.StatusCode)
	}
}

// Sign-in through the identity provider from the page: the authorization
// code flow with PKCE against a real OIDC provider (mockoidc), the ID token
// traded for a session; the session acts with the role the user's group
// has in a project.
func TestUI_SignInThroughTheIdentityProvider(t *testing.T) {
	idp := oidctest.Start(t)
	c := startCluster(t, 1, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--oidc-issuer", idp.Issuer(), "--oidc-client-id", idp.Config().ClientID)
	})
	a := c.agents[0]
	if res := runCLI(t, a.addr(), c.token, "project", "create", "lab"); res.Code != 0 {
		t.Fatal(res)
	}
	if res := runCLI(t, a.addr(), c.token, "project", "member", "add", "lab", "group:researchers", "--role", "operator"); res.Code != 0 {
		t.Fatal(res)
	}
	idp.QueueUser(oidctest.User("jane", "researchers"))
	ctx := uiBrowser(t, c)
	browser.Do(t, ctx, uitest.Timeout, "sign in through the provider",
		chromedp.Navigate(a.addr()+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-oidc]`)),
		chromedp.Click(chromedp.CSS(`button[data-oidc]`)),
		chromedp.WaitVisible(chromedp.CSS("header.top .brand")),
	)
	uitest.WaitFor(t, ctx, "signed in as the provider's user", `(document.querySelector("header .user")?.textContent || "") === "oidc:jane"`)
	uitest.WaitFor(t, ctx, "the project lab offered", `[...document.querySelectorAll("#project option")].some((o) => o.textContent === "lab")`)
	if u := browser.Eval[string](t, ctx, `location.pathname + location.search`); u != "/ui/" {
		t.Errorf("the address after the sign-in keeps %q", u)
	}
}
