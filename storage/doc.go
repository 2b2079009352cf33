// Package storage owns everything durable on a node: the data-dir layout and its
// identity file, the Raft log, stable and snapshot stores inside it, and the
// node's copy of the gossip keyring (gossip-keyring.json).
//
// A data dir is either empty (a new node) or holds a novacron.json that says it is
// a NovaCron data dir of a known format. Anything else is refused with a message
// that says what was found, and nothing in it is ever overwritten: a wrong
// --data-dir must not destroy someone's files.
package storage
