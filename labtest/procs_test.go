package labtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// alive reports whether pid is a process that runs (exists and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// readPidFile reads a pid file and checks the process runs.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	if !alive(pid) {
		return 0, fmt.Errorf("pid %d from %s does not run", pid, path)
	}
	return pid, nil
}

// procArgs is a process's command line, split.
func procArgs(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// agentPid is the pid of the host's agent: the one in agent.pid, checked to be a
// `novacron agent` with this host's data dir.
func (h *labHost) agentPid() (int, error) {
	pid, err := readPidFile(filepath.Join(h.Dir, "agent.pid"))
	if err != nil {
		return 0, fmt.Errorf("%s agent: %w", h.Name, err)
	}
	args, err := procArgs(pid)
	if err != nil {
		return 0, err
	}
	want := filepath.Join(h.Dir, "agent")
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) && args[i+1] == want && slices.Contains(args, "agent") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("%s: pid %d from agent.pid is not its agent: %q", h.Name, pid, args)
}

// agentProc is how an agent was started: enough to start it again the same way.
type agentProc struct {
	args []string
	env  []string
	dir  string
	// groups are its supplementary groups: lab.sh gives each host's agent one
	// of its own, which lab.sh cut matches.
	groups []uint32
}

// agentProcOf reads how the agent with this pid was started.
func agentProcOf(pid int) (agentProc, error) {
	args, err := procArgs(pid)
	if err != nil {
		return agentProc{}, err
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return agentProc{}, err
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return agentProc{}, err
	}
	groups, err := procGroups(pid)
	if err != nil {
		return agentProc{}, err
	}
	return agentProc{args: args, env: strings.Split(strings.TrimRight(string(env), "\x00"), "\x00"), dir: cwd, groups: groups}, nil
}

// procGroups reads a process's supplementary groups (the Groups: line of
// /proc/PID/status).
func procGroups(pid int) ([]uint32, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, f := range strings.Fields(rest) {
			g, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("/proc/%d/status: %q", pid, line)
			}
			out = append(out, uint32(g))
		}
		return out, nil
	}
	return nil, fmt.Errorf("/proc/%d/status has no Groups line", pid)
}

// killAgent sends SIGKILL to the host's agent, waits until it is gone and
// returns how it was started.
func (h *labHost) killAgent(tb testing.TB) agentProc {
	tb.Helper()
	pid, err := h.agentPid()
	if err != nil {
		tb.Fatal(err)
	}
	proc, err := agentProcOf(pid)
	if err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tb.Fatalf("kill -9 %s's agent (pid %d): %v", h.Name, pid, err)
	}
	testutil.EventuallyEvery(tb, 10*time.Second, 50*time.Millisecond, h.Name+"'s agent to die", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d still runs", pid)
		}
		return nil
	})
	return proc
}

// restartAgent starts the agent again with the command line and environment it
// had, in its own session like lab.sh starts it, appending to its log, and waits
// until it answers with a leader.
func (h *labHost) restartAgent(tb testing.TB, p agentProc) {
	tb.Helper()
	logf, err := os.OpenFile(filepath.Join(h.Dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== labtest: restarting the agent: %s\n", strings.Join(p.args, " "))
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env, cmd.Dir = p.env, p.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true,
		Credential: &syscall.Credential{Uid: uint32(os.Geteuid()), Gid: uint32(os.Getegid()), Groups: p.groups}}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("restart %s's agent: %v", h.Name, err)
	}
	go cmd.Wait() //nolint:errcheck // reaps it whenever lab.sh down stops it
	if err := os.WriteFile(filepath.Join(h.Dir, "agent.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := newLabClient(h.Addr, h.CA, "", 2*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	testutil.Eventually(tb, 60*time.Second, h.Name+"'s restarted agent to answer with a leader", func() error {
		if !alive(cmd.Process.Pid) {
			return fmt.Errorf("the restarted agent exited; log:\n%s", testutil.LogTail(filepath.Join(h.Dir, "agent.log"), 20))
		}
		hl, err := c.Health(context.Background())
		if err != nil {
			return err
		}
		if hl.Status != "ok" || hl.Leader == "" {
			return fmt.Errorf("health %+v", hl)
		}
		return nil
	})
}

// libvirtdPid is the pid of the host's libvirtd.
func (h *labHost) libvirtdPid() (int, error) {
	return readPidFile(filepath.Join(h.Dir, "libvirtd.pid"))
}

// restartLibvirtd kills the host's libvirtd with SIGKILL and starts a new one in
// the host's mount namespace (entered through its virtlogd, which keeps
// running), as lab.sh's start_libvirt would; it waits until it answers. lab.sh
// has no verb for this: `up` refuses a host whose QEMU still runs without a
// libvirtd ("half up").
func (h *labHost) restartLibvirtd(tb testing.TB) {
	tb.Helper()
	h.startLibvirtd(tb, h.killLibvirtd(tb))
}

// killLibvirtd sends SIGKILL to the host's libvirtd, waits until it is gone and
// returns its pid. Its QEMU processes and its virtlogd go on running.
func (h *labHost) killLibvirtd(tb testing.TB) int {
	tb.Helper()
	pid, err := h.libvirtdPid()
	if err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tb.Fatalf("kill -9 %s's libvirtd (pid %d): %v", h.Name, pid, err)
	}
	testutil.EventuallyEvery(tb, 10*time.Second, 50*time.Millisecond, h.Name+"'s libvirtd to die", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d still runs", pid)
		}
		return nil
	})
	return pid
}

// startLibvirtd starts the host's libvirtd again in its mount namespace, after
// killLibvirtd took down the one with pid old, and waits until it answers.
func (h *labHost) startLibvirtd(tb testing.TB, old int) {
	tb.Helper()
	vlog, err := readPidFile(filepath.Join(h.Dir, "virtlogd.pid"))
	if err != nil {
		tb.Fatal(err)
	}
	libvirtd, err := lookPath("libvirtd")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(vlog), "-m", "--",
		libvirtd, "-d", "-p", filepath.Join(h.Dir, "libvirtd.pid"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tb.Fatalf("start %s's libvirtd again in its namespace: %v\n%s", h.Name, err, out.String())
	}
	testutil.EventuallyEvery(tb, 60*time.Second, virshPoll, h.Name+"'s new libvirtd to answer", func() error {
		_, err := h.virsh("version")
		return err
	})
	npid, err := h.libvirtdPid()
	if err != nil || npid == old {
		tb.Fatalf("%s: no new libvirtd after the restart (pid %d, was %d): %v", h.Name, npid, old, err)
	}
}

// cpuTicks is a process's user plus system CPU time, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	// After "pid (comm) " come state (field 3), ... utime (14), stime (15).
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return ut + st, nil
}

// clockTicks is the kernel's USER_HZ (`getconf CLK_TCK`), 100 when unknown.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}
