package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/novacron/novacron/internal/testutil"
)

// Database is the database Start creates, the one DSN names.
const Database = "novacron_test"

// superuser is the role initdb makes and DSN logs in as.
const superuser = "postgres"

// Timeouts: generous for a loaded CI machine; polling ends as soon as the
// server answers, so they cost nothing when it is quick.
const (
	initdbTimeout = 2 * time.Minute
	readyTimeout  = 60 * time.Second
	stopTimeout   = 30 * time.Second
	pollEvery     = 25 * time.Millisecond
)

// Server is one throwaway PostgreSQL server: its data dir, port and
// password, and its postmaster while it runs.
type Server struct {
	tb       testing.TB // the test that owns it; nil for the shared server
	bin      binaries
	as       runAs
	dir      string // the temp dir: the socket lives here
	data     string // the cluster's data dir, dir/data
	logPath  string // the server's stderr, shown when the test fails
	port     int
	password string

	mu  sync.Mutex
	pm  *postmaster // nil while stopped
	dbs int         // databases NewDatabase made, for unique names
}

// Start starts a server of tb's own and creates the database Database in it.
// The server stops and its files go when tb ends, passed or failed. A test
// that stops or restarts its server needs one of its own; others may use
// Shared. Without PostgreSQL installed Start skips tb (fails it when CI=true).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := newServer()
	if errors.Is(err, errNotInstalled) {
		skipOrFatal(tb, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.tb = tb
	tb.Cleanup(s.cleanup)
	return s
}

// newServer makes, starts and fills a server; on failure it leaves nothing
// behind and says why, with the end of the server's log.
func newServer() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	as, err := serverUser()
	if err != nil {
		return nil, err
	}
	base, err := as.baseDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %v", err)
	}
	s := &Server{bin: bin, as: as, dir: dir, data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "postgres.log")}
	if err := s.setUp(); err != nil {
		if b, rerr := os.ReadFile(s.logPath); rerr == nil && len(b) > 0 {
			err = fmt.Errorf("%w\nserver log:\n%s", err, tail(b, 30))
		}
		if cerr := s.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) setUp() error {
	if err := s.as.own(s.dir); err != nil {
		return fmt.Errorf("pgtest: give %s to the server's user: %v", s.dir, err)
	}
	if err := s.initdb(); err != nil {
		return err
	}
	if err := s.startOnFreePort(); err != nil {
		return err
	}
	if err := s.exec(context.Background(), "postgres", "CREATE DATABASE "+Database); err != nil {
		return fmt.Errorf("pgtest: create database: %v", err)
	}
	return nil
}

// DSN is the pgx connection string of Database: TCP on 127.0.0.1 with
// password authentication, as a real deployment connects.
func (s *Server) DSN() string { return s.DSNFor(Database) }

// DSNFor is DSN for another database of the server (see CreateDatabase).
func (s *Server) DSNFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the server's TCP port on 127.0.0.1; it stays the same across
// Restart, so a pool's DSN stays valid.
func (s *Server) Port() int { return s.port }

// PID is the postmaster's process ID, 0 while the server is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pm == nil {
		return 0
	}
	return s.pm.cmd.Process.Pid
}

// CreateDatabase creates another empty database (a test that wants several
// apart on one server) and returns its DSN. It is dropped when tb ends.
func (s *Server) CreateDatabase(tb testing.TB, name string) string {
	tb.Helper()
	ident := pgx.Identifier{name}.Sanitize()
	if err := s.exec(context.Background(), "postgres", "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if s.PID() != 0 {
			_ = s.exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		}
	})
	return s.DSNFor(name)
}

// NewDatabase is CreateDatabase with a name of its own, made from tb's name:
// the way tests that share a server (Shared) keep apart.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	s.mu.Lock()
	s.dbs++
	n := s.dbs
	s.mu.Unlock()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(tb.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return s.CreateDatabase(tb, fmt.Sprintf("t%d_%s", n, name))
}

// Stop shuts the server down as an operator would (fast: open sessions are
// ended, committed work kept) and waits until it has exited. Clients see
// their connections fail until Restart. Only a server from Start may stop.
func (s *Server) Stop() {
	s.owner().Helper()
	if err := s.stop(fast); err != nil {
		s.tb.Fatal(err)
	}
}

// Restart stops the server if it runs and starts it again on the same port
// with the same data, returning once it accepts connections. Only a server
// from Start may restart.
func (s *Server) Restart() {
	s.owner().Helper()
	if err := s.stop(fast); err != nil {
		s.tb.Fatal(err)
	}
	if err := s.start(); err != nil {
		s.tb.Fatal(err)
	}
}

// owner is the test that may stop the server: the shared one belongs to
// every test of the process, and one stopping it would break the others.
func (s *Server) owner() testing.TB {
	if s.tb == nil {
		panic("pgtest: the shared server cannot be stopped or restarted; use Start for a server of the test's own")
	}
	return s.tb
}

// initdb makes the cluster's data dir, with the superuser's password in a
// file that only the server's account reads (and that is removed after).
func (s *Server) initdb() error {
	s.password = randomHex(16)
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %v", err)
	}
	defer os.Remove(pwfile)
	if err := s.as.own(pwfile); err != nil {
		return fmt.Errorf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin.path("initdb"),
		"--pgdata="+s.data, "--username="+superuser, "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Env = s.env()
	cmd.Dir = s.dir
	cmd.SysProcAttr = s.as.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	return nil
}

// startOnFreePort starts the server on a free port, trying another when the
// one picked was taken in between (another test process).
func (s *Server) startOnFreePort() error {
	var err error
	for range 3 {
		ports, perr := testutil.PickFreePorts(1)
		if perr != nil {
			return fmt.Errorf("pgtest: %v", perr)
		}
		s.port = ports[0]
		if err = s.start(); err == nil || !strings.Contains(err.Error(), "could not bind") {
			return err
		}
	}
	return err
}

// env is the environment of initdb and postgres: nothing of the test's own
// PG* variables, which would change what they do.
func (s *Server) env() []string {
	return []string{"PATH=" + s.bin.dir + ":/usr/bin:/bin", "LC_ALL=C", "HOME=" + s.dir}
}

// exec runs one statement as the superuser on database db.
func (s *Server) exec(ctx context.Context, db, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSNFor(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// cleanup is a Start server's end: it stops the server at once and removes
// its files; the server's log goes to the test's output when the test
// failed.
func (s *Server) cleanup() {
	if s.tb.Failed() {
		s.logTail(func(log string) { s.tb.Logf("pgtest: server log (%s):\n%s", s.dir, log) })
	}
	if err := s.close(); err != nil {
		s.tb.Error(err)
	}
}

// close stops the server at once (an immediate shutdown: nothing of it
// needs to survive) and removes its dir.
func (s *Server) close() error {
	err := s.stop(immediate)
	if rerr := os.RemoveAll(s.dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("pgtest: remove %s: %v", s.dir, rerr))
	}
	return err
}

// logTail hands the end of the server's log to show, if there is any.
func (s *Server) logTail(show func(string)) {
	if b, err := os.ReadFile(s.logPath); err == nil && len(b) > 0 {
		show(tail(b, 60))
	}
}

// tail is the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
