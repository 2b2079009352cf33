package fsm

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// One poisoned log entry must never take a node down: an entry stays in the
// log, so a node that panics on it panics again at every restart, and every
// node of the cluster applies the same entry. The defences, in order:
//
//  1. The leader refuses what Apply could not take before it reaches Raft:
//     Decode checks every entry of a batch (Batch.validate), the internal
//     apply endpoint takes only the types a follower forwards (Forwardable),
//     and each applyX validates its command before it changes anything.
//  2. applyBatch turns a bad entry (unknown type, body that does not decode,
//     nested batch) into that entry's ErrMalformed result.
//  3. applySafely recovers a panic in one applyX and makes it that command's
//     ErrMalformed result, logged loudly.
//
// Why the last resort keeps the nodes in step: Apply is deterministic (no
// clock, randomness or I/O), so every node running the same build on the
// same state panics at the same point of the same entry, leaving the same
// state behind, and returns the same error. The risk is what was changed before
// the panic: an applyX that had half-mutated the state (a record changed but
// not its index) leaves indexes that a node restored from a snapshot would
// rebuild differently, and a build where the bug is fixed would not panic at
// all. So the recover is not the defence: each applyX validates its command
// completely before its first write (the fuzz tests check that no decodable
// command panics), and a recovered panic is logged as a bug to fix.
//
// What stays loud: a top-level entry of a type this build does not know and
// that is not ignorable still stops the node (Apply), since only a newer node
// can have written it, and the version gate keeps it from being proposed until
// every node knows it; going on would let state diverge.

// logger is the FSM's logger: the process's default, with the component.
func logger() *slog.Logger { return slog.Default().With("component", "fsm") }

// recoveredPanics counts the panics applySafely turned into errors, so the fuzz
// tests can tell a recovered bug from a refused command.
var recoveredPanics atomic.Uint64

// applySafely applies one decoded command and names the entity it changed. A
// panic in its applyX becomes an ErrMalformed result (see above).
func (s *state) applySafely(cmd Command, index uint64, events []Event) (out []Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			recoveredPanics.Add(1)
			logger().Error("BUG: applying a command panicked; the command was refused and the node goes on",
				"index", index, "type", cmd.Type().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out, err = events, errorf(ErrMalformed, "%s at log index %d could not be applied: %v", cmd.Type(), index, r)
		}
	}()
	before := s.describeTarget(cmd)
	if err := commands[cmd.Type()].apply(s, cmd, index); err != nil {
		return events, err
	}
	return s.eventsFor(cmd, index, before, events), nil
}
