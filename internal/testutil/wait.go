package testutil

import (
	"errors"
	"testing"
	"time"
)

// PollInterval is how often WaitFor and Eventually look at their condition
// again: often enough that a test does not idle long after the condition holds,
// rarely enough that the polling does not load the processes under test.
const PollInterval = 100 * time.Millisecond

// errNotYet is WaitFor's condition error while its bool condition is false.
var errNotYet = errors.New("condition not met")

// Poll calls cond every interval until it returns nil or timeout has passed. It
// returns how long it polled and cond's last error (nil when the condition
// held). It fails no test: it is the building block of the helpers below and
// what a caller without a testing.TB, or one that handles the timeout itself,
// uses.
func Poll(timeout, interval time.Duration, cond func() error) (time.Duration, error) {
	start := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		err := cond()
		if err == nil || time.Since(start) > timeout {
			return time.Since(start), err
		}
		<-ticker.C
	}
}

// WaitFor polls cond every PollInterval until it returns true, and fails tb
// (naming what it waited for) once timeout has passed.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if _, err := Poll(timeout, PollInterval, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}); err != nil {
		tb.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Eventually polls cond every PollInterval until it returns nil, and fails tb
// with cond's last error once timeout has passed: the error says why the
// condition did not hold, which a bool cannot. It returns how long it waited.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	tb.Helper()
	return EventuallyEvery(tb, timeout, PollInterval, what, cond)
}

// EventuallyEvery is Eventually polling every interval: longer for a condition
// that is costly to check (one that runs a process), shorter for one whose
// timing the test measures.
func EventuallyEvery(tb testing.TB, timeout, interval time.Duration, what string, cond func() error) time.Duration {
	tb.Helper()
	took, err := Poll(timeout, interval, cond)
	if err != nil {
		tb.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
	}
	return took
}

// HoldsFor checks that cond stays nil for the whole of d, polling it every
// interval from the start to past the end of d, and fails tb the first time it
// does not.
func HoldsFor(tb testing.TB, d, interval time.Duration, what string, cond func() error) {
	tb.Helper()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for deadline := time.Now().Add(d); ; <-ticker.C {
		if err := cond(); err != nil {
			tb.Fatalf("%s stopped holding: %v", what, err)
			return // a fake testing.TB's Fatalf returns
		}
		if time.Now().After(deadline) {
			return
		}
	}
}
