package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// A follower trusts its copy of credentials only after an unbroken stretch
// of contact with the leader: a break the watch saw, or a watch that has not
// run lately (a frozen process), sends it to the leader's read index even
// though raft's last contact is fresh again.
func TestCredentialIndex_ABreakOfContactIsNotForgottenAtTheFirstHeartbeat(t *testing.T) {
	agents := startCore(t, 3, nil, nil)
	leader := readyLeader(t, agents)
	var follower *Agent
	for _, a := range agents {
		if a != leader {
			follower = a
			break
		}
	}
	const maxStale = 2 * time.Second
	ctx := context.Background()
	now := time.Now().UnixNano()
	follower.contact.lastTick.Store(now)
	follower.contact.lastBreak.Store(now - int64(10*time.Second))
	testutil.WaitFor(t, 10*time.Second, "the follower hears the leader", func() bool {
		return time.Since(follower.raft.LastContact()) < maxStale
	})
	follower.contact.lastTick.Store(time.Now().UnixNano())
	if !follower.inTouchFor(maxStale) {
		t.Fatal("a follower in touch for 10 s does not trust its copy")
	}
	reads := func() uint64 {
		idx, err := follower.CredentialIndex(ctx, maxStale)
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	if idx := reads(); idx != 0 {
		t.Fatalf("in touch: CredentialIndex = %d, want 0 (the local copy)", idx)
	}
	// A break a second ago: the heartbeats are back, the entries may not be.
	follower.contact.lastBreak.Store(time.Now().Add(-time.Second).UnixNano())
	if follower.inTouchFor(maxStale) {
		t.Fatal("a follower trusts its copy a second after a break")
	}
	if idx := reads(); idx == 0 {
		t.Fatal("after a break: CredentialIndex did not ask the leader")
	}
	// The watch has not run for a second: this process was frozen.
	follower.contact.lastBreak.Store(time.Now().Add(-10 * time.Second).UnixNano())
	follower.contact.lastTick.Store(time.Now().Add(-time.Second).UnixNano())
	if follower.inTouchFor(maxStale) {
		t.Fatal("a follower whose watch stopped trusts its copy")
	}
}
