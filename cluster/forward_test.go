package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
)

// crossForwarding sends err the way the leader answers a forwarded write and
// rebuilds it the way the forwarding node does.
func crossForwarding(t *testing.T, err error) (wireError, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	writeResult(rec, 7, err)
	var ans wireAnswer
	if derr := json.NewDecoder(rec.Body).Decode(&ans); derr != nil || ans.Error == nil {
		t.Fatalf("answer to %v: %v, error %+v", err, derr, ans.Error)
	}
	return *ans.Error, answerError(ans.Error)
}

func TestForward_EverySentinelCrossesAsItself(t *testing.T) {
	sentinels := fsm.Sentinels()
	if len(sentinels) == 0 {
		t.Fatal("fsm.Sentinels() is empty")
	}
	for _, s := range sentinels {
		sent := fmt.Errorf("vm \"web-1\": %w", s)
		we, got := crossForwarding(t, sent)
		if we.Code != fsm.ErrorCode(s) || we.Code == "" {
			t.Errorf("%v crossed with code %q, want %q", s, we.Code, fsm.ErrorCode(s))
		}
		if !errors.Is(got, s) {
			t.Errorf("code %q came back as %v, which is not the sentinel", we.Code, got)
		}
		if got.Error() != sent.Error() {
			t.Errorf("code %q: message %q, want %q", we.Code, got.Error(), sent.Error())
		}
		var retry errRetry
		if errors.As(got, &retry) {
			t.Errorf("code %q: a command's own error must not be retried", we.Code)
		}
	}
}

func TestForward_ClusterErrorsCross(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		code  string
		is    error
		retry bool
	}{
		{"no leader", fmt.Errorf("%w: election", ErrNoLeader), errcode.NoLeader, ErrNoLeader, false},
		// A leader that stops looks to the caller like no leader.
		{"shutdown", ErrShutdown, errcode.NoLeader, ErrNoLeader, false},
		{"leader changed", errRetry{fmt.Errorf("%w: lost it", ErrNoLeader)}, errcode.NotLeader, ErrNoLeader, true},
		{"new leader not ready", errRetry{fmt.Errorf("%w: barrier", ErrNotReady)}, errcode.NotReady, ErrNotReady, true},
		{"not ready", ErrNotReady, errcode.NotReady, ErrNotReady, true},
		// The leader's refusals of the caller come back as the API's own.
		{"forbidden", authz.Errorf(authz.ErrForbidden, `role "reader" may not apply CreateVM`), errcode.Forbidden, authz.ErrForbidden, false},
		{"unauthenticated", authz.Errorf(authz.ErrUnauthenticated, "unknown or revoked token"), errcode.Unauthenticated, authz.ErrUnauthenticated, false},
	}
	for _, c := range cases {
		we, got := crossForwarding(t, c.err)
		var retry errRetry
		if we.Code != c.code || !errors.Is(got, c.is) || errors.As(got, &retry) != c.retry {
			t.Errorf("%s: crossed as %q, rebuilt as %v (retry %v); want %q, %v, retry %v",
				c.name, we.Code, got, errors.As(got, &retry), c.code, c.is, c.retry)
		}
		if (c.is == authz.ErrForbidden || c.is == authz.ErrUnauthenticated) && got.Error() != c.err.Error() {
			t.Errorf("%s: message %q, want %q", c.name, got.Error(), c.err.Error())
		}
	}
	// An error no one knows crosses as internal and comes back as a plain error.
	we, got := crossForwarding(t, errors.New("disk on fire"))
	if we.Code != errcode.Internal || fsm.ErrorCode(got) != "" || got.Error() != "disk on fire" {
		t.Errorf("unknown error crossed as %q, rebuilt as %v", we.Code, got)
	}
}
