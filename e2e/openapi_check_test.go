package e2e

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/openapi/openapitest"
)

// openAPIChecked is the HTTP client of the e2e tests' API clients: it
// checks every request and answer of a real agent against the API described
// (api/openapi), as the API's own tests do, and fails t on a mismatch. tlsCfg
// is that of client.WithTLS (nil for an insecure agent).
func openAPIChecked(t testing.TB, tlsCfg *tls.Config) *http.Client {
	v, err := openapitest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: v.Transport(base, func(err error) {
		t.Errorf("openapi: %v", err)
	})}
}
