package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// Every command that starts a long action (a VM's creation, a migration, an
// image import, a drain, a volume's or a snapshot's change on its host)
// waits by default until the action's operation ends, with the same flags
// (--no-wait, --timeout, and --wait kept for the scripts that pass it) and
// the same loop: it asks GET /api/v1/operations/{id}?wait= (the server
// answers once the operation has ended, or after the wait with its
// progress) and shows the answers on one progress line. Once the operation
// has ended, or is no longer listed, the command reads the action's record
// to say how it ended.

// defaultOpWindow is how long one question about an operation may wait on
// the server: an ended operation is answered at once, a running one after
// this long with its progress, which then shows.
const defaultOpWindow = 2 * time.Second

// opLogEvery is, off a terminal, the least time between two lines of the
// same state (a new progress figure); a new state always prints.
const opLogEvery = 5 * time.Second

// longWait are the flags of a command that starts a long action.
type longWait struct {
	noWait bool
	wait   bool
	// timeout bounds the wait; 0 is no bound when unbounded is set.
	timeout   time.Duration
	unbounded bool
	cmd       *cobra.Command
}

// flags adds --no-wait, --wait and --timeout (by default def; 0: no limit)
// to cmd; until completes "wait ..." ("until the VM runs").
func (w *longWait) flags(cmd *cobra.Command, until string, def time.Duration) {
	w.cmd, w.unbounded = cmd, def == 0
	f := cmd.Flags()
	f.BoolVar(&w.noWait, "no-wait", false, "return at once, without waiting "+until)
	f.BoolVar(&w.wait, "wait", true, "wait "+until+" (the default; --no-wait returns at once)")
	help := "how long to wait (the action goes on after it)"
	if w.unbounded {
		help = "stop waiting after this long (the action goes on; default: no limit)"
	}
	f.DurationVar(&w.timeout, "timeout", def, help)
}

// check refuses contradictory flags; --wait=false means --no-wait.
func (w *longWait) check() error {
	if w.cmd != nil && w.cmd.Flags().Changed("wait") {
		if w.wait && w.noWait {
			return usagef("--wait and --no-wait contradict each other")
		}
		w.noWait = w.noWait || !w.wait
	}
	if !w.noWait && (w.timeout < 0 || (w.timeout == 0 && !w.unbounded)) {
		return usagef("--timeout must be positive, got %s", w.timeout)
	}
	return nil
}

// context bounds ctx by --timeout.
func (w *longWait) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if w.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, w.timeout)
}

// followOperation asks about operation id until it has ended or is no
// longer listed, showing each answer on p. It returns the ended operation,
// or nil when it is gone (its record says the outcome); watch, when set,
// sees every answer, and its error ends the wait. rc should read with the
// index of the write that started the action, so that a node which has not
// applied it yet does not answer "not found".
func (a *app) followOperation(ctx context.Context, rc *client.Client, id string, p *opProgress,
	watch func(*client.Operation) error) (*client.Operation, error) {
	for {
		wait := a.opWindow
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		asked := time.Now()
		op, err := rc.Operation(ctx, id, wait.Round(time.Millisecond))
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case client.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, err
		}
		if watch != nil {
			if err := watch(op); err != nil {
				return op, err
			}
		}
		p.show(op)
		if client.OperationFinal(op.State) {
			return op, nil
		}
		// An answer before the window is up (a server that does not wait)
		// is not followed by the next question at once.
		if d := a.pollInterval - time.Since(asked); d > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
	}
}

// opProgress shows an operation a command waits for: on a terminal one
// line redrawn in place ("migrating web-1 to node-2 [######----] 47%
// running 12s"); elsewhere (a pipe, a log) a line per new state until it
// ends (the command then says how), and at most one line every opLogEvery
// for new progress. An error the operation
// reports while it goes on (a VM that cannot move yet) prints on a line of
// its own whenever it changes. Nothing shows when quiet (-o json).
type opProgress struct {
	w      io.Writer
	redraw bool
	quiet  bool
	doing  string
	start  time.Time

	line     progressLine
	state    string
	progress float64
	err      string
	logged   time.Time
}

// newOpProgress starts the progress of an action described as doing
// ("migrating web-1 to node-2").
func (a *app) newOpProgress(doing string) *opProgress {
	return &opProgress{w: a.stdout, redraw: a.terminal, quiet: a.json(), doing: doing, start: time.Now(),
		line: progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}}
}

// show shows one answer about the operation.
func (p *opProgress) show(op *client.Operation) {
	if p.quiet {
		return
	}
	newErr := op.Error != p.err && op.Error != "" && !client.OperationFinal(op.State)
	p.err = op.Error
	if p.redraw {
		if newErr { // above the line, which is then drawn again
			p.line.end()
			fmt.Fprintln(p.w, safe("  "+op.Error))
			p.line.last = ""
		}
		p.line.show(fmt.Sprintf("%s %s %3.0f%% %s %s", p.doing, drawBar(op.Progress), op.Progress, op.State,
			time.Since(p.start).Round(time.Second)))
		return
	}
	if client.OperationFinal(op.State) {
		return // the command says how it ended
	}
	now := time.Now()
	if op.State != p.state || (op.Progress != p.progress && now.Sub(p.logged) >= opLogEvery) {
		p.state, p.progress, p.logged = op.State, op.Progress, now
		line := p.doing + ": " + op.State
		if op.Progress > 0 {
			line += fmt.Sprintf(" %.0f%%", op.Progress)
		}
		fmt.Fprintln(p.w, safe(line))
	}
	if newErr {
		fmt.Fprintln(p.w, safe("  "+op.Error))
	}
}

// end finishes a redrawn line, so what follows starts on its own line.
func (p *opProgress) end() { p.line.end() }
