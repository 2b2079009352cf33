package pgtest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
)

// started records every postmaster this process started, for CheckNoneLeft.
var started struct {
	mu   sync.Mutex
	runs []run
}

// run is one postmaster: its PID and data dir, which tells it apart from
// an unrelated process that got the PID later.
type run struct {
	pid  int
	data string
}

func recordStart(pid int, data string) {
	started.mu.Lock()
	defer started.mu.Unlock()
	started.runs = append(started.runs, run{pid, data})
}

// CheckNoneLeft returns an error naming every postmaster this test process
// started that still runs. A package's TestMain calls it after m.Run, when
// every test's cleanup has stopped its server: a server left behind is a
// bug in pgtest or a test holding one past its end.
func CheckNoneLeft() error {
	started.mu.Lock()
	defer started.mu.Unlock()
	var left []string
	for _, r := range started.runs {
		if err := syscall.Kill(r.pid, 0); errors.Is(err, syscall.ESRCH) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", r.pid))
		if err == nil && !strings.Contains(string(cmdline), r.data) {
			continue // the PID belongs to someone else now
		}
		left = append(left, fmt.Sprintf("pid %d (%s)", r.pid, r.data))
	}
	if len(left) > 0 {
		return fmt.Errorf("pgtest: postgres still running after the tests: %s", strings.Join(left, ", "))
	}
	return nil
}
