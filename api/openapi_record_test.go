package api

import (
	"net/http/httptest"
	"testing"

	"github.com/novacron/novacron/api/openapi/openapitest"
)

// checkOpenAPI makes srv's client check every request and answer against
// the API described (api/openapi): an answer whose status or body the
// document does not list, or a request it refuses that the server accepted,
// fails the test that made it.
func checkOpenAPI(t testing.TB, srv *httptest.Server) {
	t.Helper()
	v, err := openapitest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	c.Transport = v.Transport(c.Transport, func(err error) {
		t.Errorf("openapi: %v", err)
	})
}
