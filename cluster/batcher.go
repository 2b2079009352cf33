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

// batcher coalesces the leader's writes: commands that are waiting when the
// previous entry has been handed to Raft go together into one fsm.Batch entry.
// A lone write goes out at once as a plain entry, so one client sees no added
// latency, while many concurrent clients share disk writes and replication rounds.
type batcher struct {
	raft    *raft.Raft
	timeout time.Duration
	reqs    chan *applyRequest
	// preparer, once set (Agent.Start), completes each batch before it is
	// proposed: the placement of new VMs, see WritePreparer.
	preparer atomic.Pointer[WritePreparer]
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
	return &batcher{raft: r, timeout: timeout, reqs: make(chan *applyRequest)}
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
	if err != nil {
		finishAll(batch, 0, raftError(err))
		return
	}
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
