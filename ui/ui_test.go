package ui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// Any path that is not a file is the page (a reload of a deep link works);
// a missing file is 404; nothing outside the embedded files is reachable.
func TestHandler_ServesThePageAndItsFilesOnly(t *testing.T) {
	h := Handler(Options{})
	index := get(t, h, "GET", "/ui/", nil)
	body, _ := io.ReadAll(index.Body)
	if index.StatusCode != 200 || !strings.Contains(string(body), `<script type="module" src="/ui/js/main.js">`) {
		t.Fatalf("/ui/: %d %s", index.StatusCode, body)
	}
	for _, path := range []string{"/ui/vms/web-1", "/ui/nodes/n1", "/ui/../../etc/passwd", "/ui/%2e%2e/%2e%2e/etc"} {
		resp := get(t, h, "GET", path, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != string(body) {
			t.Errorf("%s: %d, want the page itself", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/ui/js/none.js", "/ui/ui.go", "/ui/vendor/../../ui.go"} {
		if resp := get(t, h, "GET", path, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/ui/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if ct := get(t, h, "GET", "/ui/js/app.js", nil).Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("a module's type: %q", ct)
	}
}

// Compressed when asked, revalidated by ETag.
func TestHandler_GzipAndETag(t *testing.T) {
	h := Handler(Options{})
	plain := get(t, h, "GET", "/ui/js/app.js", nil)
	want, _ := io.ReadAll(plain.Body)
	zipped := get(t, h, "GET", "/ui/js/app.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", zipped.Header)
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != string(want) {
		t.Fatal("the gzipped file differs from the file")
	}
	etag := plain.Header.Get("ETag")
	if resp := get(t, h, "GET", "/ui/js/app.js", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", etag, resp.StatusCode)
	}
}

// The policy: this origin only, and the identity provider's origin for
// connections when there is one (a path or a bad URL adds nothing).
func TestHandler_ContentSecurityPolicy(t *testing.T) {
	csp := get(t, Handler(Options{}), "GET", "/ui/", nil).Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self';", "connect-src 'self';", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("policy %q lacks %q", csp, want)
		}
	}
	csp = get(t, Handler(Options{IdentityProvider: "https://login.example.com/realms/x"}), "GET", "/ui/", nil).Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://login.example.com;") {
		t.Errorf("policy with a provider: %q", csp)
	}
	csp = get(t, Handler(Options{IdentityProvider: "javascript:alert(1)"}), "GET", "/ui/", nil).Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("policy with a bad provider URL: %q", csp)
	}
}
