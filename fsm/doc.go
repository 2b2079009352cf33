// Package fsm holds the whole cluster state as a replicated finite-state machine.
//
// Every change to cluster state is a typed command (see command.go) that the Raft
// leader appends to the log; every node then applies the same commands in the same
// order through FSM.Apply, so every node holds the same state. Apply is deterministic:
// it reads nothing but the log entry and the current state (no clock, no randomness,
// no I/O). IDs and timestamps are chosen by whoever proposes a command and travel
// inside it.
//
// Readers use the query methods (Nodes, VM, ...), which return copies, and follow
// changes through Subscribe and WaitForIndex.
package fsm
