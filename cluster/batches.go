package cluster

import (
	"context"

	"github.com/novacron/novacron/fsm"
)

// maxWriteBatch bounds the commands one log entry carries when a node writes
// many of its own at once (placements, fleet registrations); larger than the
// batcher's maxBatch, which coalesces separate callers' writes.
const maxWriteBatch = 512

// ApplyInBatches applies cmds in log entries of at most maxWriteBatch
// commands. Each command succeeds or fails on its own; a refused one (the
// state changed meanwhile) is left for the caller's next pass, which looks at
// the state again.
func (a *Agent) ApplyInBatches(ctx context.Context, cmds []fsm.Command) {
	for len(cmds) > 0 && ctx.Err() == nil {
		n := min(len(cmds), maxWriteBatch)
		a.applyBatch(ctx, cmds[:n])
		cmds = cmds[n:]
	}
}

// applyBatch applies cmds as one log entry.
func (a *Agent) applyBatch(ctx context.Context, cmds []fsm.Command) {
	var cmd fsm.Command = cmds[0]
	if len(cmds) > 1 {
		b, err := fsm.NewBatch(cmds...)
		if err != nil {
			a.logger.Error("encoding batch", "error", err)
			return
		}
		cmd = b
	}
	if _, err := a.Apply(ctx, cmd); err != nil && ctx.Err() == nil && len(cmds) == 1 {
		a.logger.Debug("write refused", "command", cmd.Type(), "error", err)
	}
}
