package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil/browser"
)

// The dashboard, in a real Chromium, against a real 3-agent cluster (sim
// hosts): a user signs in, creates a VM and sees it run without a reload,
// sees its CPU chart draw, migrates it and watches the migration end at
// 100 %, and drains a node; a viewer sees no action it may not use, and
// a forged one is refused with the API's message; and a page whose node
// stops says it is reconnecting, then shows what it missed.
func TestUI_DashboardDrivesTheCluster(t *testing.T) {
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--metrics-interval", "1s")
	})
	password := uiUser(t, c, "ada", "cluster-admin")
	ctx := uiBrowser(t, c)
	n1 := c.agents[0]
	uiLogin(t, ctx, n1, "ada", password)
	uiWaitFor(t, ctx, "the overview names the leader", `/^n[123]$/.test(document.querySelector("#health .big")?.textContent || "")`)
	browser.Screenshot(t, ctx, "overview")
	uiMarkReload(t, ctx)

	// Create a VM through the form; its page shows it running once its
	// host reports it, without a reload.
	uiGo(t, ctx, "/ui/vms")
	browser.Do(t, ctx, uiTimeout, "open the create form",
		chromedp.Click(chromedp.ID("create-vm")),
		chromedp.WaitVisible(chromedp.ID("vm-name")),
		chromedp.SendKeys(chromedp.ID("vm-name"), "web-1"),
		chromedp.SetValue(chromedp.ID("vm-memory"), "256"),
		chromedp.SetValue(chromedp.ID("vm-disk"), "1"),
		chromedp.SendKeys(chromedp.ID("vm-hostname"), "web-1"),
		chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)),
	)
	uiWaitFor(t, ctx, "the new VM's page shows it running", `document.querySelector("h1")?.dataset.state === "running"`)
	uiWaitFor(t, ctx, "its CPU chart draws points", `+(document.querySelector('[data-field="cpu_percent"]')?.dataset.points || 0) > 0`)
	browser.Screenshot(t, ctx, "vm")

	// Migrate it; the migration's progress reaches 100 % on the page.
	browser.Do(t, ctx, uiTimeout, "migrate the VM",
		chromedp.Click(chromedp.ID("action-migrate")),
		chromedp.WaitVisible(chromedp.ID("migrate-target")),
		// Sim hosts in separate agents move VMs cold only.
		chromedp.SetValue(chromedp.ID("migrate-mode"), "cold"),
		chromedp.Click(chromedp.ID("migrate-go")),
	)
	uiWaitFor(t, ctx, "the migration ends at 100 %", `[...document.querySelectorAll("tr[data-migration] .progress")].some((td) => td.textContent.startsWith("100 %")) && [...document.querySelectorAll("tr[data-migration] .badge")].some((b) => b.textContent === "completed")`)

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
	uiGo(t, ctx, "/ui/nodes/"+empty)
	browser.Do(t, ctx, uiTimeout, "drain the node", chromedp.Click(chromedp.ID("drain")))
	uiWaitFor(t, ctx, "the node is drained", `(document.querySelector("#drain-status")?.textContent || "").startsWith("Drained")`)
	browser.Screenshot(t, ctx, "node-drained")
	uiNotReloaded(t, ctx)

	t.Run("viewer", func(t *testing.T) {
		viewerPassword := uiUser(t, c, "vic", "viewer")
		tab := browser.NewTab(t, ctx) // a tab of its own: its own session
		uiLogin(t, tab, n1, "vic", viewerPassword)
		uiGo(t, tab, "/ui/vms/"+vm.ID)
		uiWaitFor(t, tab, "the VM page", `document.querySelector("h1")?.dataset.state === "running"`)
		if n := browser.Eval[int](t, tab, `document.querySelectorAll('[id^="action-"], #create-vm, #drain').length`); n != 0 {
			t.Errorf("a viewer sees %d action buttons", n)
		}
		// A forged stop, sent with the viewer's session through the page's
		// own API client: refused, with the API's own words.
		msg := browser.Eval[string](t, tab, `import("/ui/js/api.js").then((api) => api.post("/api/v1/vms/`+vm.ID+`/stop").then(() => "accepted", (e) => e.status + " " + e.message))`)
		if !strings.HasPrefix(msg, "403 ") || !strings.Contains(msg, "vm:write") {
			t.Errorf("a viewer's forged stop: %q, want 403 with the API's message naming vm:write", msg)
		}
	})

	t.Run("reconnects", func(t *testing.T) {
		n2 := c.agents[1]
		tab := browser.NewTab(t, ctx)
		uiLogin(t, tab, n2, "ada", password)
		uiGo(t, tab, "/ui/vms")
		uiWaitFor(t, tab, "the VM list", `document.querySelector('[data-vm="web-1"]') !== null`)
		uiMarkReload(t, tab)
		n2.kill()
		uiWaitFor(t, tab, "the page says it is reconnecting", `!document.querySelector(".banner.offline").hidden && document.querySelector(".banner.offline").textContent.includes("Reconnecting")`)
		browser.Screenshot(t, tab, "reconnecting")
		if _, err := n1.client(c.token).CreateVM(context.Background(), client.VMRequest{Name: "made-while-away", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}); err != nil {
			t.Fatal(err)
		}
		n2.start()
		uiWaitFor(t, tab, "the page is live again", `document.querySelector(".banner.offline").hidden`)
		uiWaitFor(t, tab, "the VM made while it was away", `document.querySelector('[data-vm="made-while-away"]') !== null`)
		uiNotReloaded(t, tab)
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
