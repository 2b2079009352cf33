package labtest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/novacron/novacron/internal/testutil/browser"
	"github.com/novacron/novacron/ui/uitest"
)

// The dashboard in Chromium against the lab's real libvirt hosts (issue
// 17): a VM created from the lab image through the form runs a real guest;
// its serial console in the page runs a command; its CPU chart draws the
// guest's samples; a host killed with lab.sh shows its alert on the
// overview without a reload, and acknowledging it there shows in the API.
func TestLab_Dashboard(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	img := l.importLabImage(t, c)
	var certs []string
	for _, h := range l.hosts {
		certs = append(certs, filepath.Join(l.Dir, "tls", h.Name+".pem"))
	}
	ctx := browser.New(t, browser.Options{TrustCerts: certs})
	page := l.leaderHost(t)
	base := page.Addr
	if !strings.HasPrefix(base, "http") {
		base = "https://" + base
	}
	uitest.SignInWithKey(t, ctx, base, l.token)

	name := uniqueName("ui")
	t.Cleanup(func() { c.DeleteVM(context.Background(), name) })
	uitest.Go(t, ctx, "/ui/vms")
	browser.Do(t, ctx, uitest.Timeout, "create a VM from the lab image",
		chromedp.Click(chromedp.ID("create-vm")),
		chromedp.WaitVisible(chromedp.ID("vm-name")),
		chromedp.SendKeys(chromedp.ID("vm-name"), name),
		chromedp.SetValue(chromedp.ID("vm-memory"), "96"),
		chromedp.SetValue(chromedp.ID("vm-image"), img.ID),
		chromedp.SendKeys(chromedp.ID("vm-hostname"), name),
		chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)),
	)
	uitest.MarkReload(t, ctx)
	browser.WaitTrue(t, ctx, 2*bootTimeout, "the VM running on its page", `document.querySelector("h1")?.dataset.state === "running"`)

	// The console: type until the guest's shell answers (it may still be
	// starting; an echo of what is typed says "$((6 * 7))", not 42).
	browser.Do(t, ctx, uitest.Timeout, "open the console", chromedp.Click(chromedp.ID("open-console")), chromedp.WaitVisible(chromedp.CSS("#console .xterm")))
	deadline := time.Now().Add(2 * bootTimeout)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	// The answer is a line of its own (a typed line that lost its "echo"
	// would say "ui-says-42: not found").
	for !browser.Eval[bool](t, ctx, `(document.getElementById("console").textOf?.() || "").split("\n").some((l) => l.trim() === "ui-says-42")`) {
		if time.Now().After(deadline) {
			browser.Screenshot(t, ctx, "console-failed")
			t.Fatalf("no answer from the guest's shell on the page's console")
		}
		browser.Do(t, ctx, uitest.Timeout, "type a command", chromedp.Focus(chromedp.CSS("#console .xterm-helper-textarea")),
			browser.InsertText("echo ui-says-$((6*7))"), chromedp.KeyEvent("\r"))
		<-tick.C
	}
	browser.WaitTrue(t, ctx, time.Minute, "the CPU chart draws the guest's samples", `+(document.querySelector('[data-field="cpu_percent"]')?.dataset.points || 0) > 0`)
	browser.Screenshot(t, ctx, "vm-console")
	uitest.NotReloaded(t, ctx)

	// A host fails: its alert comes to the overview, live.
	var victim *labHost
	for _, h := range l.hosts {
		if h != page {
			victim = h
			break
		}
	}
	uitest.Go(t, ctx, "/ui/")
	uitest.WaitFor(t, ctx, "the overview", `document.getElementById("health") !== null`)
	vn, err := c.Node(context.Background(), victim.Name)
	if err != nil {
		t.Fatal(err)
	}
	l.killHost(t, victim)
	uitest.AcknowledgeFromOverview(t, ctx, "host_failed:node:"+vn.ID, 2*time.Minute, "overview-host-failed")
	uitest.NotReloaded(t, ctx)
	acked, err := l.clientOf(t, page).Alerts(context.Background(), "acknowledged") // the victim may be the host c talks to
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range acked {
		found = found || (a.Rule == "host_failed" && a.ObjectName == victim.Name)
	}
	if !found {
		t.Errorf("the API lists no acknowledged host_failed alert of %s: %+v", victim.Name, acked)
	}
	l.restartHost(t, victim)
}
