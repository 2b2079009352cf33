package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
)

// clientCodes are the codes api/client exports for its users.
var clientCodes = []string{
	client.CodeNotFound, client.CodeConflict, client.CodeInvalid, client.CodeInvalidState,
	client.CodeStaleGeneration, client.CodeMalformedCommand, client.CodeUpgradeRequired, client.CodeDuplicateRequest, client.CodeQuotaExceeded, client.CodeTooManyRequests,
	client.CodeNoLeader, client.CodeNotReady, client.CodeShuttingDown,
	client.CodeUnauthenticated, client.CodeForbidden, client.CodeBodyTooLarge, client.CodeBadJSON,
	client.CodeUnsupportedMediaType, client.CodeIndexTimeout, client.CodeMethodNotAllowed,
	client.CodeTimeout, client.CodeCanceled, client.CodeInternal,
}

// Every error the API can answer reaches the Go client with its status and
// code, and the client exports a constant for the code.
func TestErrors_EveryCodeRoundTripsThroughClient(t *testing.T) {
	e := newTestEnv(t)
	entries := append(errorTable[:len(errorTable):len(errorTable)], struct {
		err    error
		status int
		code   string
	}{errors.New("disk on fire"), http.StatusInternalServerError, errcode.Internal})
	for _, entry := range entries {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.server.writeError(w, r, errorf(entry.err, "because"))
		}))
		c, err := client.New(srv.URL, "token", client.WithRetry(0)) // each code once, as answered
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Health(context.Background())
		srv.Close()
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("%v: the client got %v, not an APIError", entry.err, err)
			continue
		}
		if apiErr.Code != entry.code || client.ErrorCode(err) != entry.code || apiErr.Status != entry.status {
			t.Errorf("%v: the client saw %d %q, want %d %q", entry.err, apiErr.Status, apiErr.Code, entry.status, entry.code)
		}
		if !slices.Contains(clientCodes, entry.code) {
			t.Errorf("code %q has no constant in api/client", entry.code)
		}
	}
}

// Each fsm sentinel is answered with the code it carries, so an error keeps
// its code from the FSM, through forwarding, to the client.
func TestErrors_SentinelCodesMatchTable(t *testing.T) {
	for _, s := range fsm.Sentinels() {
		_, code, known := classify(s)
		if !known || code != fsm.ErrorCode(s) {
			t.Errorf("%v: the API answers %q (known %v), the sentinel carries %q", s, code, known, fsm.ErrorCode(s))
		}
	}
}
