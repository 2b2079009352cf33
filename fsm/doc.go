// Package fsm holds the whole cluster state as a replicated finite-state machine.
//
// Every change to cluster state is a typed command (see command.go) that the Raft
// leader appends to the log; every node then applies the same commands in the same
// order through FSM.Apply, so every node holds the same state. Apply is deterministic:
// it reads nothing but the log entry and the current state (no clock, no randomness,
// no I/O). IDs and timestamps are chosen by whoever proposes a command and travel
// inside it.
//
// Nodes of different versions share one log during a rolling upgrade. An older node
// ignores fields it does not know, in log entries and snapshots alike (decodeJSON),
// and stops on a command type or snapshot entity kind it does not know. The leader
// keeps this safe by proposing nothing that a node applying the log does not
// understand: Requires says which version a command needs, CheckVersions whether
// every node has it.
//
// Readers use the query methods (Nodes, VM, ...), which return copies, and follow
// changes through Subscribe and WaitForIndex.
package fsm
