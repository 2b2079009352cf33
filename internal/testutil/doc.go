// Package testutil holds the helpers NovaCron's tests share: polling for a
// condition with a deadline (never sleeping to wait), loopback ports that are
// free for both TCP and UDP, the novacron binary built once per test process,
// running that binary as a user's shell would, and a logger that stays quiet
// unless asked.
//
// It is for tests only: it imports the testing package, and no production
// package may import it. Every helper that fails a test takes a testing.TB, so
// tests and benchmarks use the same ones; where a caller has no testing.TB at
// hand (a TestMain, a benchmark fixture), an error-returning variant sits beside
// the failing one.
package testutil
