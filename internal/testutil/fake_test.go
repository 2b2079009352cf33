package testutil

import (
	"fmt"
	"sync"
	"testing"
)

// fakeTB records a failure instead of ending the test, so that the tests can
// check when and how the helpers fail. Its Fatal returns, unlike testing.T's.
type fakeTB struct {
	testing.TB // nil: a method not overridden here panics
	mu         sync.Mutex
	failures   []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatal(args ...any) { f.fail(fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }

func (f *fakeTB) fail(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, msg)
}

// failed returns the failure messages so far.
func (f *fakeTB) failed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failures...)
}
