// Package chaos is the client side of NovaCron's linearizability chaos tests:
// a paced load of register writes and linearizable reads through the nodes of
// a cluster that a test meanwhile kills, restarts and partitions, recorded as a
// porcupine history and checked once the faults are over: decided by the zone
// test for registers (zones.go), exact and fast, and cross-checked by
// porcupine's search where it finishes in time.
//
// Each register is one VM created before the history starts; its value is the
// integer in Spec.Labels["v"] (0 at creation). Labels rather than a size so
// that no value can be refused for lack of room on the VM's host.
//
// The package does not know how a node is reached: a Target writes and reads
// one node, in process (cluster's own tests, through Agent.Apply) or over the
// HTTP API (HTTPTarget: the real-process tests in e2e and labtest). The same
// checks run over both.
package chaos
