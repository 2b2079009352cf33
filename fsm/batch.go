package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Batch carries several commands in one log entry. The leader coalesces writes
// that arrive together into a batch, so many API writes cost one Raft entry (one
// disk write, one replication round). Each command inside succeeds or fails on its
// own, in order, exactly as if it had its own entry at the batch's index.
type Batch struct {
	Entries []BatchEntry `json:"entries"`
}

// BatchEntry is one command inside a batch: its type and its JSON payload.
type BatchEntry struct {
	Type CommandType     `json:"t"`
	Body json.RawMessage `json:"c"`
}

// BatchResult is what Apply returns for a Batch: one Result per entry, in order.
type BatchResult struct {
	Results []Result
}

// Type implements Command.
func (Batch) Type() CommandType { return CmdBatch }

// NewBatch encodes cmds into a batch. Batches do not nest.
func NewBatch(cmds ...Command) (*Batch, error) {
	b := &Batch{Entries: make([]BatchEntry, 0, len(cmds))}
	for _, c := range cmds {
		if c.Type() == CmdBatch {
			return nil, errors.New("fsm: batches do not nest")
		}
		body, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
		}
		b.Entries = append(b.Entries, BatchEntry{Type: c.Type(), Body: body})
	}
	return b, nil
}

func init() {
	register(CmdBatch, "Batch", func(*state, *Batch, uint64) error {
		return errorf(ErrMalformed, "a batch cannot be nested in a batch")
	})
}

// applyBatch applies each entry under the write lock already held by Apply, and
// returns the result of each and the events of those that succeeded.
func (f *FSM) applyBatch(b *Batch, index uint64) (BatchResult, []Event) {
	res := BatchResult{Results: make([]Result, len(b.Entries))}
	var events []Event
	for i, e := range b.Entries {
		entry, ok := commands[e.Type]
		if !ok {
			unknown := &UnknownCommandError{Type: e.Type}
			if !unknown.Ignorable() {
				panic(fmt.Sprintf("fsm: refusing to apply log index %d (batch entry %d): %v; this node is older than the cluster's log, upgrade it", index, i, unknown))
			}
			res.Results[i] = Result{Err: unknown}
			continue
		}
		cmd := entry.new()
		if err := decodeJSON(e.Body, cmd); err != nil {
			res.Results[i] = Result{Err: errorf(ErrMalformed, "decode %s in batch: %v", e.Type, err)}
			continue
		}
		err := entry.apply(f.s, cmd, index)
		res.Results[i] = Result{Err: err}
		if err == nil {
			events = append(events, f.s.eventFor(cmd, index))
		}
	}
	return res, events
}
