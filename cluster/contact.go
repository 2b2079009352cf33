package cluster

import (
	"context"
	"sync/atomic"
	"time"
)

// A follower trusts its own copy of keys and sessions only while it is in
// touch with the leader (CredentialIndex). Raft's LastContact alone is not
// enough: a follower that was cut off (a partition, or its process frozen)
// hears a heartbeat the moment it is back, before the entries it missed have
// arrived, and a heartbeat cannot raise its commit index past the log it
// holds; for that moment it would look in touch while its copy still holds a
// key revoked meanwhile. So the contact watch records when this node was last
// out of touch, and a follower trusts its copy only once it has been in touch
// without a break for the whole staleness bound.

// contactTick is how often the watch looks; outOfTouch is how long without
// the leader's word (or without the watch running at all: the process was
// frozen or starved) counts as a break. The leader's heartbeats come every
// tenth of raft's heartbeat timeout, so a healthy follower never nears it.
const (
	contactTick = 100 * time.Millisecond
	outOfTouch  = 500 * time.Millisecond
)

// contactWatch holds what the watch saw, as Unix nanoseconds.
type contactWatch struct {
	lastTick  atomic.Int64
	lastBreak atomic.Int64
}

// watchContact records breaks of contact with the leader until ctx ends.
func (a *Agent) watchContact(ctx context.Context) {
	a.contact.lastBreak.Store(time.Now().UnixNano()) // not yet known to be in touch
	t := time.NewTicker(contactTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now()
			if prev := a.contact.lastTick.Swap(now.UnixNano()); prev != 0 && now.Sub(time.Unix(0, prev)) > outOfTouch {
				a.contact.lastBreak.Store(now.UnixNano()) // the watch itself did not run: frozen
			}
			if a.IsLeader() {
				continue
			}
			if now.Sub(a.raft.LastContact()) > outOfTouch {
				a.contact.lastBreak.Store(now.UnixNano())
			}
		}
	}
}

// inTouchFor reports whether this follower has heard from the leader
// without a break for the last d. Without the watch running (an agent not
// started: unit tests of the core), raft's last contact decides alone.
func (a *Agent) inTouchFor(d time.Duration) bool {
	now := time.Now()
	if now.Sub(a.raft.LastContact()) > d {
		return false
	}
	tick := a.contact.lastTick.Load()
	if tick == 0 {
		return true
	}
	if now.Sub(time.Unix(0, tick)) > outOfTouch {
		return false // the watch has not run lately: this process was frozen or starved
	}
	return now.Sub(time.Unix(0, a.contact.lastBreak.Load())) > d
}
