// Package pgtest starts throwaway PostgreSQL servers for tests: a real server,
// because what the PostgreSQL exporter must get right (COPY, partitions,
// advisory locks, ON CONFLICT, reconnecting after a restart) is exactly what a
// fake would get wrong.
//
// Start makes a temp dir, runs initdb in it, starts the postmaster on a free
// 127.0.0.1 port (and a unix socket in the temp dir) with fsync off, creates a
// database, and registers a cleanup that stops the server and removes the dir
// whether the test passed or not.
//
// A package whose tests only need a database, not a server of their own to
// stop or restart, shares one server (Shared, with Main in its TestMain) and
// gives each test a fresh database (NewDatabase): initdb is most of the cost
// of a server.
//
// The postmaster is a child of the test process, in its own process group,
// with a parent-death signal: a test binary killed by -timeout or by hand takes
// its servers with it, which a server started with `pg_ctl start` (detached)
// would survive. Stopping is what pg_ctl does, a signal to the postmaster and
// a wait for it to exit, done directly because pg_ctl refuses to run as root.
//
// Tests run as root in CI, and initdb and postgres refuse root: as root the
// server runs as the postgres system user of the Debian package, which owns
// the temp dir. Without PostgreSQL installed Start skips the test, except with
// CI=true, where it fails it: CI must not pass by skipping.
//
// It is for tests only, as package testutil is.
package pgtest
