package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/openapi"
)

// publicRoutes are the routes registered without a token (s.public and the
// two raw ones): Server records only its secured routes.
var publicRoutes = []string{
	"GET /healthz", "GET /metrics", "GET /api/v1/openapi.json",
	"POST /api/v1/login", "POST /api/v1/login/oidc", "GET /api/v1/auth/oidc",
	"GET /api/v1/enroll/ca", "POST /api/v1/enroll",
}

var docParam = regexp.MustCompile(`\{([^}]+)\}`)

// Every route the router serves is in the document, and every operation of
// the document reaches a route. An operation's path, with sample values for
// its parameters, is looked up in the router; the parameters httprouter
// names give back the pattern that serves it (POST /vms/{id}/start is
// /vms/:id/:action).
func TestOpenAPI_EveryRouteDocumented(t *testing.T) {
	e := newTestEnv(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, method) {
				continue
			}
			sample := docParam.ReplaceAllString(path, "p-$1")
			h, ps, _ := e.server.router.Lookup(method, sample)
			if h == nil {
				t.Errorf("%s %s: in the document, but no route serves it", method, path)
				continue
			}
			pattern := sample
			for _, p := range ps {
				pattern = strings.Replace(pattern, "/"+p.Value, "/:"+p.Key, 1)
			}
			documented[method+" "+pattern] = true
		}
	}
	served := slices.Clone(publicRoutes)
	for _, r := range e.server.secured {
		served = append(served, r.method+" "+r.pattern)
	}
	for _, r := range served {
		if !documented[r] {
			t.Errorf("%s: served, but not in the document (api/openapi/internal/build/routes.go)", r)
		}
		delete(documented, r)
	}
	for r := range documented {
		t.Errorf("%s: in the document, but not a registered route", r)
	}
}

// The document is answered gzipped when the client accepts it, with an
// ETag that a second request may send back for a 304.
func TestServeOpenAPI_GzipAndETag(t *testing.T) {
	e := newTestEnv(t)
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/openapi.json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	a := readAnswer(t, must(e.http.Client().Do(req)))
	if a.status != http.StatusOK || a.header.Get("Content-Encoding") != "gzip" || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v", a.status, a.header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, openapi.Document()) {
		t.Fatalf("gunzipped body differs from the document (err %v)", err)
	}
	etag := a.header.Get("ETag")
	if etag == "" || a.header.Get("Cache-Control") == "" {
		t.Fatalf("no ETag or Cache-Control: %v", a.header)
	}
	plainAnswer := e.do("GET", "/api/v1/openapi.json", "", nil).expect(t, http.StatusOK, nil)
	if !bytes.Equal(plainAnswer.body, openapi.Document()) {
		t.Fatal("the plain answer differs from the document")
	}
	req.Header.Set("If-None-Match", etag)
	if a := readAnswer(t, must(e.http.Client().Do(req))); a.status != http.StatusNotModified || len(a.body) != 0 {
		t.Fatalf("with If-None-Match: status %d, %d bytes", a.status, len(a.body))
	}
}

func must(resp *http.Response, err error) *http.Response {
	if err != nil {
		panic(err)
	}
	return resp
}
