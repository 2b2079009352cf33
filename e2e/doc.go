// Package e2e holds NovaCron's real-process tests: each test builds nothing
// itself but runs the `novacron` binary that TestMain built once, starts agents
// as separate OS processes on loopback (sim hypervisor), and drives them the way
// a user would: through the CLI binary and, where the CLI has no verb, through
// api/client or plain HTTP.
//
// The tests are slow (whole clusters, leader elections, process kills), so
// `go test -short` skips the package. Each test starts its own agents on free
// ports (internal/testutil) in its own temp dirs, so all but the chaos tests run
// in parallel. Every agent's stderr goes to a file in the test's temp dir and
// its tail is printed when a test fails.
package e2e
