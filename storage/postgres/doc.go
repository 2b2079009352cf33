// Package postgres is NovaCron's optional long-term record in PostgreSQL: the
// cluster's objects and their history, its change events, its audit log, and
// metric samples kept longer than a host's local history.
//
// The cluster never needs PostgreSQL to run. Raft holds the truth; the leader
// exports what changed to PostgreSQL and may fall behind while PostgreSQL is
// away. So every write here is idempotent (a replayed event or an older
// version of a row changes nothing), the export position (export_state) moves
// in the same transaction as the events it covers, and every call is bounded
// in time: a deadline from the caller or Config.CallTimeout, and a statement
// timeout on the server, so a slow or absent database never holds up the
// caller for long.
//
// The schema is versioned SQL embedded in the binary (migrations/), applied
// by Open in order, each in its own transaction, under an advisory lock so
// that agents starting together migrate once. A database migrated by a newer
// NovaCron is refused (ErrSchemaTooNew) rather than written in a shape this
// binary does not know.
//
// The row types (VMRow, EventRow, ...) are this package's own, not the FSM's:
// the schema is a public, long-lived contract that must not change shape when
// the FSM's encoding does, and keeping secrets out of it (no password or key
// hashes) is easier to see in a struct that has no field for them. The
// exporter converts FSM records to rows in one place.
//
// Metric samples go in by COPY into tables partitioned by UTC day;
// EnsurePartitions makes the days, DropPartitionsBefore is retention, and
// QueryVMMetrics and QueryNodeMetrics read them back in buckets (date_bin).
package postgres
