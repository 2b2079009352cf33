// Package browser starts Debian's Chromium, headless, for the dashboard's
// tests (chromedp), and saves their screenshots.
//
// A test that needs it skips, with the reason, where Chromium is not
// installed (make deps installs it); under CI it fails instead, so that
// the browser tests never go missing silently.
package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// Path is where Debian's chromium package puts the browser.
const Path = "/usr/bin/chromium"

// Options are how a test wants the browser.
type Options struct {
	// TrustCerts are PEM files of server certificates the browser accepts
	// although no CA it knows signed them: the test cluster's node
	// certificates, pinned by their public keys (Chromium's
	// --ignore-certificate-errors-spki-list); any other certificate is
	// still refused.
	TrustCerts []string
	// Width and Height of the window (default 1400 x 900).
	Width, Height int
}

// New starts a browser for t and returns a context to run chromedp actions
// in (with a tab open); the browser and its profile go when t ends.
func New(t testing.TB, opts Options) context.Context {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the browser tests need Chromium at %s (make deps installs it): %v", Path, err)
		}
		t.Skipf("needs Chromium at %s (run make deps as root to install it)", Path)
	}
	if opts.Width == 0 {
		opts.Width, opts.Height = 1400, 900
	}
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(opts.Width, opts.Height),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	if os.Geteuid() == 0 {
		flags = append(flags, chromedp.NoSandbox) // Chromium refuses to run its sandbox as root
	}
	if pins := spkiPins(t, opts.TrustCerts); pins != "" {
		flags = append(flags, chromedp.Flag("ignore-certificate-errors-spki-list", pins))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline (see chromedp.Run)
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// spkiPins is the base64 SHA-256 of each certificate's public key, joined.
func spkiPins(t testing.TB, files []string) string {
	var pins []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s: no PEM certificate", f)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		pins = append(pins, base64.StdEncoding.EncodeToString(sum[:]))
	}
	return strings.Join(pins, ",")
}

// Do runs steps with a deadline; when they fail it saves a screenshot
// ("failed-<n>") and fails t with what was being done.
func Do(t testing.TB, parent context.Context, timeout time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		failures++
		Screenshot(t, parent, fmt.Sprintf("failed-%d", failures))
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// WaitTrue waits until a JavaScript expression is true; after timeout it
// saves a screenshot of the page as it was ("failed-<n>") and fails t
// with what.
func WaitTrue(t testing.TB, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := chromedp.Run(wctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		failures++
		Screenshot(t, ctx, fmt.Sprintf("failed-%d", failures))
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// failures numbers the screenshots of failed waits.
var failures int

// Screenshot saves the page as NAME.png in the artifacts folder
// ($NOVACRON_ARTIFACTS, default a folder of the test's) and returns its
// path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("NOVACRON_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "novacron-artifacts")
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100 makes a PNG (less, a JPEG)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// Installed reports whether Chromium is there (for benchmarks, which skip).
func Installed() bool {
	_, err := exec.LookPath(Path)
	return err == nil
}

// NewTab opens another tab of ctx's browser (with its own session storage,
// so another user can sign in there); it closes when t ends.
func NewTab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil { // opens the tab, with no deadline (see chromedp.Run)
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// InsertText types text into the focused element as an input method does
// (one input event): a terminal in the page (xterm.js) reads SendKeys's
// key and character events both, and would get every letter twice.
func InsertText(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return chromedp.Void{}, err
	}
}
