package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// A node that has lost touch with the leader confirms a credential through
// the leader before it trusts its own copy: a token revoked meanwhile (which
// the node learns only by catching up) is refused, and a node that cannot
// reach the leader at all answers 503 rather than accept what may be revoked.
func TestAuth_ANodeBehindConfirmsCredentialsThroughTheLeader(t *testing.T) {
	e := newTestEnv(t)
	var tok client.Token
	e.do("POST", "/api/v1/tokens", e.root, client.TokenRequest{Name: "ci", Role: "reader"}).expect(t, http.StatusCreated, &tok)
	e.do("GET", "/api/v1/vms", tok.Secret, nil).expect(t, http.StatusOK, nil)

	// Cut off for a minute: the leader revoked the token, which this node
	// applies only when it catches up through the leader's read index.
	e.cluster.mu.Lock()
	e.cluster.lastContact = time.Now().Add(-time.Minute)
	e.cluster.readIndex = func() (uint64, error) {
		idx := e.cluster.index + 1
		e.cluster.index = idx
		if err := e.fsm.ApplyCommand(&fsm.RevokeToken{ID: tok.ID}, idx); err != nil {
			return 0, err
		}
		return idx, nil
	}
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/vms", tok.Secret, nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "revoked")

	// No leader to ask: 503, never the local copy's word.
	e.cluster.mu.Lock()
	e.cluster.readIndex = func() (uint64, error) { return 0, context.DeadlineExceeded }
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/vms", e.root, nil).expectError(t, http.StatusServiceUnavailable, "no_leader", "cannot confirm")

	// In touch again: the local copy is trusted, with no round trip.
	e.cluster.mu.Lock()
	e.cluster.lastContact = time.Time{}
	e.cluster.readIndex = func() (uint64, error) { return 0, errors.New("not asked") }
	e.cluster.mu.Unlock()
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, nil)
}
