package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// The commands whose change a host carries out after the API recorded it
// (a volume's attach, detach, growth or deletion; a snapshot's creation,
// revert or deletion) wait until its host has done it, following the
// change's operation (cli_op_wait.go) and then the object, with the same
// flags and the same loop.

// hostWait are the flags of the commands that follow a host.
type hostWait struct{ longWait }

// flags adds --no-wait, --wait and --timeout (by default def) to cmd; what
// says what the host does ("hot-plug it").
func (w *hostWait) flags(cmd *cobra.Command, what string, def time.Duration) {
	w.longWait.flags(cmd, "for the host to "+what, def)
}

// hostGoal is what a command waits for a host to do to an object of type T.
type hostGoal[T any] struct {
	// doing names the change under way ("attaching"), for the progress
	// line and the timeout.
	doing string
	// outcome says whether v (nil: the object is gone) shows the change
	// done, and, when the host reported that it failed, why.
	outcome func(v *T) (done bool, failed error)
	// report is the line printed once it is done.
	report func(v *T) string
}

// hostOp is the operation of a change a host carries out: how to find its
// ID, how to read (with the write's index), and what the progress line
// calls it ("attaching data-1").
type hostOp struct {
	rc    *client.Client
	id    func(context.Context) (string, error)
	doing string
}

// errHostTimeout is waitForHost's answer when the timeout passed first.
var errHostTimeout = errors.New("timed out waiting for the host")

// waitForHost follows cur, the write's answer: unless goal's outcome says
// it is done (or failed) already, it follows op until it ends, then reads
// the object with read (nil, nil once it is gone) and asks goal's outcome
// again, until the host is done or failed, or timeout passes
// (errHostTimeout). It returns the last object it saw (cur at worst, never
// a nil one) and the host's failure.
func waitForHost[T any](ctx context.Context, a *app, timeout time.Duration, cur *T, goal hostGoal[T], op hostOp,
	read func(context.Context) (*T, error)) (last *T, failed, err error) {
	last = cur
	if done, failed := goal.outcome(cur); done || failed != nil {
		return last, failed, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stopped := func(err error) (*T, error, error) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return last, nil, errHostTimeout
		}
		return last, nil, err
	}
	id, err := op.id(ctx)
	if err != nil {
		return stopped(err)
	}
	p := a.newOpProgress(op.doing)
	defer p.end()
	for {
		if _, err := a.followOperation(ctx, op.rc, id, p, nil); err != nil {
			return stopped(err)
		}
		next, err := read(ctx)
		if err != nil {
			return stopped(err)
		}
		if next != nil {
			last = next
		}
		if done, failed := goal.outcome(next); done || failed != nil {
			return last, failed, nil
		}
		// The operation has ended, but the object does not show it yet
		// (this node lags): look again shortly.
		select {
		case <-ctx.Done():
			return stopped(ctx.Err())
		case <-time.After(a.pollInterval):
		}
	}
}

// finishHost prints what a followed change ended in: the object (-o json)
// or goal's report, and returns the host's failure.
func finishHost[T any](a *app, last *T, failed error, goal hostGoal[T]) error {
	if a.json() {
		if err := a.printData(last); err != nil {
			return err
		}
	}
	if failed != nil {
		return failed
	}
	if !a.json() {
		printf(a.stdout, "%s\n", goal.report(last))
	}
	return nil
}

// readOrGone is a read for waitForHost: a 404 is the object gone.
func readOrGone[T any](read func(context.Context) (*T, error)) func(context.Context) (*T, error) {
	return func(ctx context.Context) (*T, error) {
		v, err := read(ctx)
		if client.IsNotFound(err) {
			return nil, nil
		}
		return v, err
	}
}
