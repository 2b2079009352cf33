package e2e

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// A token revoked while a follower was frozen (SIGSTOP: it hears nothing
// and applies nothing) is refused by that follower the moment it runs again,
// though its own copy still holds the token: it has not heard from the
// leader for longer than it trusts its copy, so it asks the leader first.
// Real processes, a real signal.
func TestE2E_ARevokedTokenIsRefusedByAFollowerThatWasCutOff(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	ctx := context.Background()
	leader := c.leader()
	follower := c.followers(leader)[0]
	tok, err := leader.client(c.token).CreateToken(ctx, client.TokenRequest{Name: "doomed", Role: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	doomed := follower.client(tok.Secret)
	testutil.Eventually(t, 30*time.Second, "the follower accepts the new token", func() error {
		_, err := doomed.VMs(ctx, client.ListVMsOptions{})
		return err
	})

	if err := follower.proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = follower.proc.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	if _, err := leader.client(c.token).RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	// The freeze lasts longer than a follower trusts its copy without the
	// leader (2 s): a length of time the scenario needs, not a wait for a
	// condition.
	<-time.After(3 * time.Second)
	resume()
	_, err = doomed.VMs(ctx, client.ListVMsOptions{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("the follower, just resumed, answered the revoked token with %v; want 401", err)
	}
}
