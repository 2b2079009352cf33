package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
)

// maxBatch bounds how many commands share one log entry.
const maxBatch = 128

// maxInFlight bounds how many of the batcher's entries are proposed and not
// yet applied. Every entry costs each voter a bolt commit with its disk syncs
// and a replication round, whatever its size. Sent the moment the previous one
// was handed to Raft, batches stayed small (7 writes each at 64 clients);
// held while this many are in flight, the writes that arrive meanwhile share
// one (15 to 21 each), and the servers spend 10 to 15% less CPU per write
// (docs/BENCHMARKS.md). A lone write finds no entry in flight and still goes
// out at once.
const maxInFlight = 2

// batcher coalesces the leader's writes: commands that are waiting when there
// is room in the pipeline (maxInFlight) go together into one fsm.Batch entry.
// A lone write goes out at once as a plain entry, so one client sees no added
// latency, while many concurrent clients share disk writes and replication rounds.
type batcher struct {
	raft    *raft.Raft
	timeout time.Duration
	reqs    chan *applyRequest
	// slots holds one token per entry in flight (see maxInFlight).
	slots chan struct{}
	// preparer, once set (Agent.Start), completes each batch before it is
	// proposed: the placement of new VMs, see WritePreparer.
	preparer atomic.Pointer[WritePreparer]
	// notice tells the followers of the last commit of a burst.
	notice *commitNotice
}

type applyRequest struct {
	cmd  fsm.Command
	done chan applyOutcome
}

type applyOutcome struct {
	index uint64
	err   error
}

func newBatcher(r *raft.Raft, timeout time.Duration) *batcher {
	// Unbuffered: a request is either taken by run or still with its sender, so
	// none is stranded when the agent stops.
	b := &batcher{raft: r, timeout: timeout, reqs: make(chan *applyRequest), slots: make(chan struct{}, maxInFlight)}
	b.notice = newCommitNotice(r, timeout, func() bool { return len(b.slots) > 0 })
	return b
}

// submit applies cmd through Raft, possibly together with others, and returns its
// index and its own outcome.
func (b *batcher) submit(ctx context.Context, cmd fsm.Command) (uint64, error) {
	req := &applyRequest{cmd: cmd, done: make(chan applyOutcome, 1)}
	select {
	case b.reqs <- req:
	case <-ctx.Done():
		return 0, ErrShutdown
	}
	out := <-req.done // Raft completes every future: committed, failed or shut down
	return out.index, out.err
}

func (b *batcher) run(ctx context.Context) {
	var next *applyRequest
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.reqs:
			case <-ctx.Done():
				return
			}
		}
		// Wait for room in the pipeline before collecting, so that what
		// arrives meanwhile joins this batch.
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			finishAll([]*applyRequest{first}, 0, ErrShutdown)
			return
		}
		batch := []*applyRequest{first}
	collect:
		for len(batch) < maxBatch && !isBatch(first) {
			select {
			case r := <-b.reqs:
				if isBatch(r) {
					next = r // a batch (a host's reports) goes out alone
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		cmds := make([]fsm.Command, len(batch))
		for i, r := range batch {
			cmds[i] = r.cmd
		}
		var done func()
		if p := b.preparer.Load(); p != nil && !isBatch(first) {
			done = (*p).PrepareWrites(cmds)
		}
		data, err := encodeBatch(cmds)
		if err != nil {
			finishAll(batch, 0, err)
			if done != nil {
				done()
			}
			<-b.slots
			continue
		}
		start := time.Now()
		f := b.raft.Apply(data, b.timeout)
		go b.finish(f, batch, start, done)
	}
}

func encodeBatch(cmds []fsm.Command) ([]byte, error) {
	if len(cmds) == 1 {
		return fsm.Encode(cmds[0])
	}
	bc, err := fsm.NewBatch(cmds...)
	if err != nil {
		return nil, err
	}
	return fsm.Encode(bc)
}

// finish waits for the entry and hands each request its own result. done,
// if not nil, runs first: the entry is applied (or surely failed) by then.
func (b *batcher) finish(f raft.ApplyFuture, batch []*applyRequest, start time.Time, done func()) {
	err := f.Error()
	raftApplyDuration.UpdateDuration(start)
	if done != nil {
		done()
	}
	<-b.slots
	if err != nil {
		finishAll(batch, 0, raftError(err))
		return
	}
	b.notice.wrote()
	switch res := f.Response().(type) {
	case fsm.Result:
		batch[0].done <- applyOutcome{f.Index(), res.Err}
	case fsm.BatchResult:
		if isBatch(batch[0]) {
			// One caller sent the batch: it gets every entry's error at once.
			errs := make([]error, len(res.Results))
			for i, r := range res.Results {
				errs[i] = r.Err
			}
			batch[0].done <- applyOutcome{f.Index(), errors.Join(errs...)}
			return
		}
		for i, r := range batch {
			r.done <- applyOutcome{f.Index(), res.Results[i].Err}
		}
	default:
		finishAll(batch, f.Index(), fmt.Errorf("unexpected apply result %T", res))
	}
}

func finishAll(batch []*applyRequest, index uint64, err error) {
	for _, r := range batch {
		r.done <- applyOutcome{index, err}
	}
}

// raftError maps a failed Apply to the cluster's errors: retryable when the entry
// surely was not appended, ambiguous when leadership was lost with it in flight.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
		return errRetry{fmt.Errorf("%w: %v", ErrNoLeader, err)}
	case errIsShutdown(err):
		return ErrShutdown
	default:
		return fmt.Errorf("%w: %v (the write may or may not have been applied)", ErrNoLeader, err)
	}
}

func isBatch(r *applyRequest) bool { return r.cmd.Type() == fsm.CmdBatch }
