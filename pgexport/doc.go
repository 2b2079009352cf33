// Package pgexport keeps the optional PostgreSQL record (package
// storage/postgres) up to date from the cluster, at least once and
// idempotently, without ever making the cluster wait for it.
//
// Two loops do it:
//
//   - Leader, on the Raft leader only: it follows the node's event journal
//     (eventlog.Journal.Frames) from the export's high water mark in
//     PostgreSQL, writes each change event, and for the objects the events
//     name it upserts their current state read from the local FSM, all in
//     one transaction with the new high water mark. A new leader resumes
//     where the old one stopped, because the mark lives in PostgreSQL. When
//     the journal no longer holds what comes after the mark (PostgreSQL
//     was away longer than the journal keeps, or the node restarted from a
//     snapshot), it resynchronises every object from the FSM and records a
//     "gap" event saying which changes are missing from the events table.
//
//   - Host, on every node: it copies the node's own metrics history
//     (package metricstore, 10 s points) into PostgreSQL by COPY every
//     Interval, from a per-series mark kept in a small file.
//
// Neither loop holds anything of the cluster's: they read the FSM through
// its query methods (copies, under its read lock, as the API does), and
// the journal and the metrics history are the backlog. While PostgreSQL is
// down they back off and retry; nothing here buffers without bound. What
// the journal (an hour) or the 10 s metric tier (6 hours) no longer holds
// when PostgreSQL comes back is covered by the resync (objects) or lost
// (events, as the gap event says; metric points older than 6 hours).
//
// Object rows show the state read when their change is exported: changes
// of one object exported together (in one batch, or in the catch-up after
// an outage) leave only the last state, in its row and in a VM's
// configuration history; the events table still has each change.
//
// Every write is idempotent: events are keyed by (Raft index, seq), object
// rows carry the Raft index they show and an older one never overwrites a
// newer one, and the high water mark never moves back. Metric rows have no
// key (COPY cannot skip duplicates); a crash between a COPY and the saving
// of its mark sends those points again, which only weighs them twice in an
// average.
//
// Secrets never reach PostgreSQL: the row types have no field for password
// or key hashes, and a VM's cloud-init user data (which may hold passwords)
// is replaced by a note of its size (rows.go).
package pgexport
