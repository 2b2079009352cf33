package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// The commands whose change a host carries out after the API recorded it
// (a volume's attach, detach, growth or deletion; a snapshot's creation,
// revert or deletion) follow the object until its host reports it done,
// with the same flags and the same loop.

// hostPollInterval is how often such a command looks at its object while
// the host acts: a hot-plug, a growth or a snapshot of a small guest takes
// well under a second to a few seconds, and each look is one cheap read.
const hostPollInterval = 300 * time.Millisecond

// hostWait are the flags of the commands that follow a host.
type hostWait struct {
	noWait  bool
	timeout time.Duration
}

// flags adds --no-wait and --timeout (by default def) to cmd; what says
// what the host does ("hot-plug it").
func (w *hostWait) flags(cmd *cobra.Command, what string, def time.Duration) {
	cmd.Flags().BoolVar(&w.noWait, "no-wait", false, "return once the change is recorded, without waiting for the host to "+what)
	cmd.Flags().DurationVar(&w.timeout, "timeout", def, "how long to wait for the host")
}

func (w *hostWait) check() error {
	if !w.noWait && w.timeout <= 0 {
		return usagef("--timeout must be positive, got %s", w.timeout)
	}
	return nil
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

// errHostTimeout is waitForHost's answer when the timeout passed first.
var errHostTimeout = errors.New("timed out waiting for the host")

// waitForHost follows cur, the write's answer, reading it again with read
// (nil, nil once it is gone) every hostPollInterval at most, until goal's
// outcome says the host is done or failed, or timeout passes
// (errHostTimeout). It shows goal.doing on a progress line meanwhile. It
// returns the last object it saw (cur at worst, never a nil one) and the
// host's failure.
func waitForHost[T any](ctx context.Context, a *app, timeout time.Duration, cur *T, goal hostGoal[T],
	read func(context.Context) (*T, error)) (last *T, failed, err error) {
	done, failed := goal.outcome(cur)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := &progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}
	defer p.end()
	ticker := time.NewTicker(min(a.pollInterval, hostPollInterval))
	defer ticker.Stop()
	start, last := time.Now(), cur
	for !done && failed == nil {
		line := "  " + goal.doing
		if a.terminal {
			line += fmt.Sprintf(" (%s)", time.Since(start).Round(time.Second))
		}
		p.show(line)
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return last, nil, errHostTimeout
			}
			return last, nil, ctx.Err()
		case <-ticker.C:
		}
		next, err := read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				continue // answered by the select above
			}
			return last, nil, err
		}
		if next != nil {
			last = next
		}
		done, failed = goal.outcome(next)
	}
	return last, failed, nil
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
