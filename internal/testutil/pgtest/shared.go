package pgtest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the process-wide server of Shared, alive from the first test
// that asks for it until Main stops it after the last.
var shared struct {
	mu      sync.Mutex
	enabled bool // Main runs the tests, so someone will stop the server
	s       *Server
	err     error // the first start's failure, given to every later test
}

// Main runs a package's tests and then stops the shared server (see Shared)
// and checks that no server of the process is left (CheckNoneLeft). A
// package that uses Shared calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	s := shared.s
	shared.s, shared.err, shared.enabled = nil, nil, false
	shared.mu.Unlock()
	if s != nil {
		if code != 0 {
			s.logTail(func(log string) { fmt.Fprintf(os.Stderr, "pgtest: shared server log (%s):\n%s\n", s.dir, log) })
		}
		if err := s.close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if err := CheckNoneLeft(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// Shared returns the server that the tests of this process share, started
// by the first caller: one initdb for a whole package instead of one per
// test, which is most of a test's time. A test keeps apart from the others
// in a database of its own (NewDatabase), and must not stop or restart the
// shared server (those that do, Start their own). It needs Main in the
// package's TestMain, which stops the server after the last test; without
// it Shared is Start, a server per test.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.enabled {
		return Start(tb)
	}
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = newServer()
	}
	if errors.Is(shared.err, errNotInstalled) {
		skipOrFatal(tb, shared.err)
	}
	if shared.err != nil {
		tb.Fatalf("pgtest: the shared server did not start: %v", shared.err)
	}
	return shared.s
}
