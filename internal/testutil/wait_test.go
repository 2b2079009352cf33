package testutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWaitFor_FailsOnTimeoutNamingWhat(t *testing.T) {
	tb := &fakeTB{}
	start := time.Now()
	WaitFor(tb, 50*time.Millisecond, "the moon to turn blue", func() bool { return false })
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the 50ms timeout", took)
	}
	got := tb.failed()
	if len(got) != 1 || !strings.Contains(got[0], "the moon to turn blue") || !strings.Contains(got[0], "50ms") {
		t.Errorf("failures %q, want one naming what it waited for and the timeout", got)
	}
}

func TestWaitFor_ReturnsOnceTheConditionHolds(t *testing.T) {
	tb := &fakeTB{}
	calls := 0
	WaitFor(tb, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if f := tb.failed(); len(f) != 0 || calls != 3 {
		t.Errorf("failures %q after %d calls, want none after 3", f, calls)
	}
}

func TestEventually_FailsWithTheLastError(t *testing.T) {
	tb := &fakeTB{}
	calls := 0
	Eventually(tb, 50*time.Millisecond, "a leader", func() error {
		calls++
		return fmt.Errorf("attempt %d: no leader", calls)
	})
	got := tb.failed()
	want := fmt.Sprintf("attempt %d: no leader", calls)
	if len(got) != 1 || !strings.Contains(got[0], "a leader") || !strings.HasSuffix(got[0], want) {
		t.Errorf("failures %q, want one naming what and ending in the last error %q", got, want)
	}
}

func TestEventuallyEvery_ReturnsHowLongItWaited(t *testing.T) {
	tb := &fakeTB{}
	start := time.Now()
	took := EventuallyEvery(tb, 10*time.Second, 10*time.Millisecond, "30ms to pass", func() error {
		if time.Since(start) < 30*time.Millisecond {
			return errors.New("too early")
		}
		return nil
	})
	if f := tb.failed(); len(f) != 0 || took < 30*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %s with failures %q, want about 30ms and none", took, f)
	}
}

func TestHoldsFor_FailsTheFirstTimeItBreaks(t *testing.T) {
	tb := &fakeTB{}
	calls := 0
	HoldsFor(tb, 10*time.Second, time.Millisecond, "the calm", func() error {
		calls++
		if calls == 3 {
			return errors.New("storm")
		}
		return nil
	})
	got := tb.failed()
	if len(got) != 1 || got[0] != "the calm stopped holding: storm" || calls != 3 {
		t.Errorf("failures %q after %d calls, want the storm at call 3", got, calls)
	}
}

func TestHoldsFor_ChecksUntilTheEnd(t *testing.T) {
	tb := &fakeTB{}
	start := time.Now()
	var last time.Time
	HoldsFor(tb, 50*time.Millisecond, 10*time.Millisecond, "the calm", func() error {
		last = time.Now()
		return nil
	})
	if f := tb.failed(); len(f) != 0 || last.Sub(start) < 50*time.Millisecond {
		t.Errorf("last check %s after the start with failures %q, want one at 50ms or later and none",
			last.Sub(start), f)
	}
}

func TestPoll_ReturnsTheLastErrorAtTheTimeout(t *testing.T) {
	sentinel := errors.New("still down")
	took, err := Poll(30*time.Millisecond, 5*time.Millisecond, func() error { return sentinel })
	if !errors.Is(err, sentinel) || took < 30*time.Millisecond {
		t.Errorf("Poll = %s, %v; want the condition's error after at least 30ms", took, err)
	}
}
