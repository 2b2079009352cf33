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

// BatchEntry is one command inside a batch: its type and its payload, in
// MessagePack (binary) or, in a batch read from a format-1 entry, JSON (see
// codec.go).
type BatchEntry struct {
	Type   CommandType     `json:"t"`
	Body   json.RawMessage `json:"c"`
	binary bool
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
		m, err := marshaler(c)
		if err != nil {
			return nil, err
		}
		body, err := m.MarshalMsg(nil)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
		}
		b.Entries = append(b.Entries, BatchEntry{Type: c.Type(), Body: body, binary: true})
	}
	return b, nil
}

func init() {
	register(CmdBatch, "Batch", func(*state, *Batch, uint64) error {
		return errorf(ErrMalformed, "a batch cannot be nested in a batch")
	})
}

// validate checks a batch before it is proposed: it holds at least one entry,
// and every entry has a type this build knows that may stand in a batch (not
// a batch) and a body that decodes as that type. The leader's Decode runs it on
// every forwarded command, so a poisoned batch is refused with ErrMalformed
// before Raft; applyBatch still copes with one (a log written before this
// check existed), entry by entry.
func (b *Batch) validate() error {
	if len(b.Entries) == 0 {
		return errorf(ErrMalformed, "a batch needs at least one entry")
	}
	for i, e := range b.Entries {
		if _, err := e.decode(); err != nil {
			return errorf(ErrMalformed, "batch entry %d: %v", i, err)
		}
	}
	return nil
}

// Command decodes the entry into its command, whatever format it came in.
func (e BatchEntry) Command() (Command, error) { return e.decode() }

// decode turns one batch entry into its command. An unknown type is an
// UnknownCommandError; a nested batch or a body that does not decode is
// ErrMalformed.
func (e BatchEntry) decode() (Command, error) {
	entry, ok := commands[e.Type]
	if !ok {
		return nil, &UnknownCommandError{Type: e.Type}
	}
	if e.Type == CmdBatch {
		return nil, errorf(ErrMalformed, "a batch cannot be nested in a batch")
	}
	cmd := entry.new()
	if err := decodeBody(e.binary, e.Body, cmd); err != nil {
		return nil, errorf(ErrMalformed, "decode %s in batch: %v", e.Type, err)
	}
	return cmd, nil
}

// applyBatch applies each entry under the write lock already held by Apply, and
// returns the result of each and the events of those that succeeded.
//
// An entry that cannot be applied fails on its own, with the same error on
// every node, and never stops the node: unlike an unknown top-level entry, an
// entry of a batch may have come from a follower through the forwarding path
// (a leader from before Batch.validate took it), and a panic here would stop
// every node again at each restart, since the entry stays in the log. A type
// this build does not know is still logged loudly: if a newer node wrote it
// despite the version gate, this node's state may differ from the others'.
func (f *FSM) applyBatch(b *Batch, index uint64) (BatchResult, []Event) {
	res := BatchResult{Results: make([]Result, len(b.Entries))}
	var events []Event
	for i, e := range b.Entries {
		cmd, err := e.decode()
		var unknown *UnknownCommandError
		switch {
		case errors.As(err, &unknown) && unknown.Ignorable():
			res.Results[i] = Result{Err: unknown}
			continue
		case errors.As(err, &unknown):
			logger().Error("refusing a batch entry of unknown type; if a newer node wrote it, upgrade this one",
				"index", index, "entry", i, "type", uint8(e.Type))
			res.Results[i] = Result{Err: errorf(ErrMalformed, "batch entry %d: %v", i, err)}
			continue
		case err != nil:
			res.Results[i] = Result{Err: err}
			continue
		}
		more, err := f.s.applySafely(cmd, index, events)
		res.Results[i] = Result{Err: err}
		if err == nil {
			events = more
			f.noteApplied(cmd)
		}
	}
	return res, events
}
