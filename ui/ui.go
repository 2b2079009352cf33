// Package ui is the web dashboard (issue 17): static files embedded in the
// binary and served by every agent at /ui/, over the API's own listener.
// The pages are plain ES modules that talk to the public API with the
// user's session, as the CLI does; there is no build step, and the
// third-party libraries are vendored by deploy/ui-vendor.sh.
package ui

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/novacron/novacron/internal/asset"
)

//go:embed static
var static embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

// securityHeaders go on every answer: only this origin's scripts, styles
// and connections (the API and its WebSockets; and the identity provider,
// whose discovery and token endpoints a sign-in through it reads), no
// framing, no referrer. Inline scripts and styles are refused, so markup
// that an API value might smuggle into a page cannot run.
func securityHeaders(connect string) map[string]string {
	return map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
			"connect-src 'self'" + connect + "; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
}

// Options are what the dashboard needs to know of the agent.
type Options struct {
	// IdentityProvider is the OIDC issuer's URL (--oidc-issuer), whose
	// origin the page may connect to; empty when there is none.
	IdentityProvider string
}

// Handler serves the dashboard under Prefix: each file an asset.Asset
// (ETag, revalidated on every load so that an upgraded agent serves its
// new pages at once; gzipped when the browser accepts it); any path that is not a file
// is the page itself (index.html), so that a reload of a deep link works.
func Handler(opts Options) http.Handler {
	connect := ""
	if u, err := url.Parse(opts.IdentityProvider); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		connect = " " + u.Scheme + "://" + u.Host
	}
	headers := securityHeaders(connect)
	files := map[string]*asset.Asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "static/")] = asset.New(body, contentType(p))
		return nil
	})
	if err != nil {
		panic("ui: reading the embedded files: " + err.Error()) // a broken build, not a runtime condition
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard's files are read-only", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, Prefix)), "/")
		f, ok := files[name]
		if !ok {
			if path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
			f = files["index.html"]
		}
		f.Serve(w, r)
	})
}

// contentType is a file's type by its name; modules are JavaScript.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".mjs", ".js":
		return "text/javascript; charset=utf-8"
	case "":
		return "text/plain; charset=utf-8"
	}
	return mime.TypeByExtension(path.Ext(name))
}
