package fsm

import "encoding/json"

// decodeJSON is the one place where the FSM decodes what other nodes wrote: command
// payloads (log entries and the entries of a batch) and snapshot lines (header and
// records) all go through it, so both follow one policy for unknown fields:
//
// A field this node does not know is ignored. During a rolling upgrade a newer
// node's log entry or snapshot can reach an older node; refusing an extra field
// would stop that node (a snapshot it cannot restore, an entry it cannot apply)
// for data it could not use anyway. Ignoring it cannot lose state, because the
// leader never proposes a command or field that some node applying the log does not
// understand (CheckVersions), and a field added later is optional: left out, or
// its zero value means the old behaviour.
//
// What cannot be ignored fails loudly, as before: a top-level log entry of an
// unknown type without IgnorableFlag stops the node (Apply panics; inside a
// batch such an entry is refused on its own and logged, see safety.go), and a
// snapshot record holding no entity kind this node knows fails Restore
// (snapshotRecord), because skipping either would let this node's state
// diverge from the others'.
func decodeJSON(b []byte, v any) error {
	// json.Unmarshal ignores unknown fields; TestUnknownFields_SamePolicy pins it.
	return json.Unmarshal(b, v)
}
