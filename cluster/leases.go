package cluster

import (
	"context"
	"sync"
	"time"
)

// The leader's side of the fencing lease (see package lease): when it last
// heard from each host. Hosts renew through RenewLease; the member reconcile
// and the leader's failover read it through LeaseSeen.

// leaderLeases is the leader's memory of when it last heard from each host.
type leaderLeases struct {
	mu    sync.Mutex
	last  map[string]time.Time
	since time.Time // when this node became leader
}

func newLeaderLeases() *leaderLeases { return &leaderLeases{last: map[string]time.Time{}} }

// reset starts a term: a new leader knows nothing of earlier renewals.
func (l *leaderLeases) reset(now time.Time) {
	l.mu.Lock()
	l.last, l.since = map[string]time.Time{}, now
	l.mu.Unlock()
}

func (l *leaderLeases) renew(node string, at time.Time) {
	l.mu.Lock()
	l.last[node] = at
	l.mu.Unlock()
}

// seen returns when the leader last heard from node, or when it became leader
// if later (it cannot know what the previous leader heard), and the renewal
// itself (zero if none this term).
func (l *leaderLeases) seen(node string) (seen, renewal time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	renewal = l.last[node]
	seen = renewal
	if l.since.After(seen) {
		seen = l.since
	}
	return seen, renewal
}

// LeaseSeen returns, on the leader, when it last heard from node (or when it
// became leader, if later) and the last renewal itself (zero if none in this
// term).
func (a *Agent) LeaseSeen(node string) (seen, renewal time.Time) { return a.leases.seen(node) }

// leaseLate reports whether the leader has not heard from node for longer
// than the lease's SuspectAfter.
func (a *Agent) leaseLate(node string) bool {
	seen, _ := a.leases.seen(node)
	return time.Since(seen) > a.cfg.Lease.SuspectAfter()
}

// heartbeat is the body of POST /internal/v1/heartbeat.
type heartbeat struct {
	Node string `json:"node"`
}

// RenewLease renews this host's lease with the leader: in the leader's own
// table when this node leads, else through the internal API, bounded by one
// heartbeat.
func (a *Agent) RenewLease(ctx context.Context) error {
	if a.IsLeader() {
		a.leases.renew(a.cfg.NodeID, time.Now())
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.Lease.Heartbeat)
	defer cancel()
	return a.forwarder.callJSON(cctx, "POST", "/internal/v1/heartbeat", heartbeat{Node: a.cfg.NodeID}, nil)
}
