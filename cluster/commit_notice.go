package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/fsm"
)

// commitNoticeDelay is how long the leader waits, after its last write
// committed with no other write following, before it tells the followers
// of the commit itself.
//
// Why: a follower applies an entry only once the leader says it is
// committed, and hashicorp/raft says so only with the next append, or
// after CommitTimeout (randomised up to twice) when no write follows. So
// the last write of a burst, or a lone write, reached the followers'
// state, their event streams and their reads 50 to 100 ms late at raft's
// default (10 to 20 ms at 10 ms, for 1.5 % of a core more per idle agent).
// An empty fsm.Batch is such an append: a no-op that every version
// applies, and that the FSM counts, so that a node's applied index still
// meets its commit index (a raft Barrier never reaches the FSM). It is held
// back this long so that a client writing one change after another
// (its next write comes within half of it: 1.06 Raft entries per write at
// one client, at 1 ms as at 2) never finds its write queued behind the
// notice's disk sync; and it is sent only when the batcher has
// nothing in flight, so that busy clusters, whose next write carries the
// commit anyway, send none.
const commitNoticeDelay = 1 * time.Millisecond

// loneWriteGap is how long after the write before it a write must come to
// count as a lone write, whose notice goes at once: no next write is
// expected within commitNoticeDelay, so waiting for one would only keep
// the followers (their event streams, their reads) a millisecond behind.
const loneWriteGap = 20 * time.Millisecond

// commitNotice sends the followers the news of the leader's last commit
// (see commitNoticeDelay): once per quiet spell after a write committed.
type commitNotice struct {
	raft    *raft.Raft
	timeout time.Duration
	// committed is signalled by each write that commits on the leader;
	// lastWrite is when the last one did (UnixNano), and lone whether it
	// came loneWriteGap or more after the one before.
	committed chan struct{}
	lastWrite atomic.Int64
	lone      atomic.Bool
	// busy reports whether writes are waiting or in flight.
	busy func() bool
	// noop is the entry that carries the news: an empty batch.
	noop []byte
}

func newCommitNotice(r *raft.Raft, timeout time.Duration, busy func() bool) *commitNotice {
	noop, err := fsm.Encode(&fsm.Batch{})
	if err != nil {
		panic(fmt.Sprintf("cluster: encoding the empty batch: %v", err))
	}
	return &commitNotice{raft: r, timeout: timeout, committed: make(chan struct{}, 1), busy: busy, noop: noop}
}

// wrote is called when a write has committed; it never blocks. The time
// is taken here, not when the notice's loop hears of it: the loop may be
// waiting for a notice's own disk sync meanwhile.
func (n *commitNotice) wrote() {
	now := time.Now().UnixNano()
	n.lone.Store(time.Duration(now-n.lastWrite.Swap(now)) >= loneWriteGap)
	select {
	case n.committed <- struct{}{}:
	default:
	}
}

func (n *commitNotice) run(ctx context.Context) {
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-n.committed:
		case <-ctx.Done():
			return
		}
		if !n.lone.Load() {
			quiet.Reset(commitNoticeDelay)
		wait:
			for {
				select {
				case <-n.committed: // another write: its successor may carry the news
					quiet.Reset(commitNoticeDelay)
				case <-quiet.C:
					break wait
				case <-ctx.Done():
					return
				}
			}
		}
		if n.busy() || n.raft.State() != raft.Leader {
			continue // a write in flight will carry it, or no longer ours to tell
		}
		// One at a time: the no-op's own commit needs no notice. An error
		// (leadership lost, shutdown) leaves it to the next leader.
		n.raft.Apply(n.noop, n.timeout).Error()
	}
}
