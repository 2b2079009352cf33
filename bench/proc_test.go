//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing
	// parenthesis are fixed: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU returns the user+system CPU time of the test process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatusKB returns a "kB" field of /proc/PID/status, such as VmRSS or VmHWM.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v := strings.Fields(rest)
		if len(v) != 2 || v[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status %s: unexpected %q", pid, field, rest)
		}
		return strconv.ParseInt(v[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// cpuMeter measures the CPU time spent by the test process and a set of other
// processes over an interval, so that a write's whole cost on the machine can
// be compared between the in-process baseline and the agent processes.
type cpuMeter struct {
	pids  []int
	start []time.Duration
	self  time.Duration
}

// startCPU starts measuring the test process and pids.
func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, self: selfCPU()}
	for _, p := range pids {
		c, _ := procCPU(p)
		m.start = append(m.start, c)
	}
	return m
}

// stop returns the CPU time used since startCPU by the test process and by the
// other processes together.
func (m *cpuMeter) stop() (self, others time.Duration) {
	self = selfCPU() - m.self
	for i, p := range m.pids {
		if c, err := procCPU(p); err == nil {
			others += c - m.start[i]
		}
	}
	return self, others
}

// reportCPU reports the CPU time per acknowledged write: all of it (cpu-us/write)
// and, when other processes were measured, theirs alone (server-cpu-us/write).
func reportCPU(b *testing.B, m *cpuMeter, ops int) {
	b.Helper()
	self, others := m.stop()
	if ops == 0 {
		return
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(ops) }
	b.ReportMetric(us(self+others), "cpu-us/write")
	if len(m.pids) > 0 {
		b.ReportMetric(us(others), "server-cpu-us/write")
	}
}

func TestProcCPU_ReadsOwnProcess(t *testing.T) {
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	c, err := procCPU(os.Getpid())
	if err != nil || c <= 0 {
		t.Fatalf("procCPU(self) = %v, %v; want a positive time (spun %d times)", c, err, x)
	}
	if s := selfCPU(); s < c/2 {
		t.Fatalf("getrusage says %v, /proc says %v", s, c)
	}
	rss, err := procStatusKB(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS = %d, %v; want positive", rss, err)
	}
	if _, err := procStatusKB(os.Getpid(), "NoSuchField"); err == nil {
		t.Fatal("a missing field gave no error")
	}
}
