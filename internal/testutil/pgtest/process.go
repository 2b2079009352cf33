package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postmaster is one run of the server's main process.
type postmaster struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
}

// shutdown is how the server is asked to stop: the signals pg_ctl's -m fast
// and -m immediate send.
type shutdown syscall.Signal

const (
	fast      = shutdown(syscall.SIGINT)
	immediate = shutdown(syscall.SIGQUIT)
)

// serverSettings are the postgres settings of a test server: loopback only,
// and no durability, which a throwaway server does not need and which costs
// most of a test's time. Dynamic shared memory lives in files of the data
// dir rather than /dev/shm, which a CI container may cap at 64 MB for all
// the servers of its parallel tests together.
var serverSettings = []string{
	"listen_addresses=127.0.0.1",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"shared_buffers=32MB",
	"max_connections=200", // a shared server serves every parallel test of a package
	"dynamic_shared_memory_type=mmap",
}

// start runs the postmaster and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pm != nil {
		return errors.New("pgtest: the server is already running")
	}
	args := []string{"-D", s.data, "-p", strconv.Itoa(s.port), "-k", s.dir}
	for _, kv := range serverSettings {
		args = append(args, "-c", kv)
	}
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %v", err)
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command(s.bin.path("postgres"), args...)
	cmd.Env = s.env()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = s.as.sysProcAttr()
	// Its own process group, so that a fallback kill reaches the backends;
	// SIGQUIT (an immediate shutdown) when the test process dies, so that
	// no server outlives it.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %v", err)
	}
	recordStart(cmd.Process.Pid, s.data)
	pm := &postmaster{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(pm.done)
	}()
	if err := s.waitReady(pm); err != nil {
		s.kill(pm)
		return err
	}
	s.pm = pm
	return nil
}

// waitReady polls until the server answers a connection, or fails when the
// postmaster exits first (its log says why) or readyTimeout passes.
func (s *Server) waitReady(pm *postmaster) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-pm.done:
			b, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("pgtest: postgres exited while starting (%v):\n%s", pm.cmd.ProcessState, tail(b, 20))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSNFor("postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-pm.done:
		case <-time.After(pollEvery):
		}
	}
	return fmt.Errorf("pgtest: postgres did not accept connections within %s: %v", readyTimeout, last)
}

// stop asks the postmaster to shut down how and waits for it; a postmaster
// that does not go within stopTimeout is killed with its process group.
func (s *Server) stop(how shutdown) error {
	s.mu.Lock()
	pm := s.pm
	s.pm = nil
	s.mu.Unlock()
	if pm == nil {
		return s.killByPIDFile()
	}
	_ = pm.cmd.Process.Signal(syscall.Signal(how))
	select {
	case <-pm.done:
		return nil
	case <-time.After(stopTimeout):
	}
	s.kill(pm)
	return fmt.Errorf("pgtest: postgres did not stop within %s of %v; killed", stopTimeout, syscall.Signal(how))
}

// kill ends a postmaster and its backends at once and waits until it is
// reaped.
func (s *Server) kill(pm *postmaster) {
	pid := pm.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-pm.done
}

// killByPIDFile is the fallback for a postmaster this Server does not hold
// (a start that failed half-way): the data dir's postmaster.pid names it.
// Only a process whose command line is this data dir's postgres is killed,
// since a stale file's PID may belong to someone else by now.
func (s *Server) killByPIDFile() error {
	b, err := os.ReadFile(s.data + "/postmaster.pid")
	if err != nil {
		return nil // never started, or stopped cleanly
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), s.data) {
		return nil
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return fmt.Errorf("pgtest: killed a leftover postmaster (pid %d) of %s", pid, s.data)
}
