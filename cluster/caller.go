package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
)

// The leader does not take a follower's word that a write is allowed. The
// API names the key or session a request authenticated with (WithCaller); a
// follower forwards its ID with the command (callerHeader), and the leader
// builds the caller's rights from its own state (the credential, its user,
// the user's bindings) and checks that they grant the command in the
// command's own project (package authz: the VM's, for a change to a VM). A
// command without a caller is taken from another node only if nodes write it
// on their own (a host's reports, the leader's loops). A write the API makes
// on the leader itself is checked the same way, so both paths answer alike.
//
// The follower's role table, its copy of the token and its clock do not
// matter: a token revoked at the leader is refused there even by a follower
// that has not applied the revocation yet.

// callerHeader carries the ID of the API token a forwarded write is made for.
const callerHeader = "X-Novacron-Caller"

type callerKey struct{}

// WithCaller records in ctx the ID of the API token on whose behalf the
// commands applied with ctx (Apply) are written. The leader authorises each
// against that token's role in its own state.
func WithCaller(ctx context.Context, tokenID string) context.Context {
	return context.WithValue(ctx, callerKey{}, tokenID)
}

// callerOf returns the token ID WithCaller recorded in ctx, or "".
func CallerOf(ctx context.Context) string {
	id, _ := ctx.Value(callerKey{}).(string)
	return id
}

// authorize checks, on the leader, that cmd may be written: for the token
// with ID caller, or, when caller is "", by a node on its own. forwarded says
// that cmd came from another node; the leader's own writes without a caller
// (its loops, this node's host) pass.
//
// The token is read from this node's state, which lacks recent writes until
// the leader has applied the previous terms' entries (its barrier): until
// then, it answers ErrNotReady, which the caller retries, rather than refuse
// a token it merely has not seen yet or take one already revoked.
func (a *Agent) authorize(caller string, forwarded bool, cmd fsm.Command) error {
	if caller == "" {
		if !forwarded {
			return nil
		}
		return authz.AuthorizeNode(cmd)
	}
	if a.readyTerm.Load() != a.raft.CurrentTerm() {
		return errRetry{fmt.Errorf("%w: the new leader has not applied the previous term's entries yet, so it cannot check the caller's token", ErrNotReady)}
	}
	p, err := authz.ForCredential(a.fsm, caller, time.Now())
	if err != nil {
		return err
	}
	return authz.AuthorizeUser(p, cmd, a.fsm)
}
