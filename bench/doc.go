// Package bench measures NovaCron's write path against a bare hashicorp/raft
// cluster on the same machine, in the same run, with the same load generator.
//
// The package holds only benchmarks and their helpers; run them with
// `make bench`. The baseline (BenchmarkRaftBaseline*) is three raft.Raft nodes
// in the test process, talking TCP over loopback and logging to raft-boltdb
// with fsync on, applying 200-byte entries to a no-op FSM. NovaCron
// (BenchmarkAPI*, BenchmarkAgentIdleRSS) is the real binary, built once per
// run, started as three agent processes on loopback with the sim hypervisor,
// and driven through the HTTP API with the Go client. docs/BENCHMARKS.md shows
// the figures and how to read them.
package bench
