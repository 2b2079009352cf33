package pgtest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestStart_ServesRestartsAndCleansUp starts a server in a subtest, uses it
// across a restart, and checks after the subtest's cleanup that no process of
// it is left and its files are gone.
func TestStart_ServesRestartsAndCleansUp(t *testing.T) {
	var pid int
	var dir string
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		pid, dir = s.PID(), s.dir
		if pid == 0 {
			t.Fatal("no postmaster after Start")
		}
		query(t, s.DSN(), "CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
		port := s.Port()
		s.Restart()
		if s.Port() != port {
			t.Fatalf("port changed across Restart: %d then %d", port, s.Port())
		}
		if got := query(t, s.DSN(), "SELECT v FROM t"); got != 42 {
			t.Fatalf("after restart: got %d, want 42", got)
		}
		other := s.CreateDatabase(t, "other db")
		if got := query(t, other, "SELECT 7"); got != 7 {
			t.Fatalf("other database: got %d", got)
		}
		if fi, err := os.Stat(s.dir + "/.s.PGSQL." + strconv.Itoa(port)); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("no unix socket in the temp dir: %v", err)
		}
		s.Stop()
		if s.PID() != 0 {
			t.Fatal("PID after Stop")
		}
		s.Restart()
		pid = s.PID()
	})
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postmaster %d still exists after cleanup (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after cleanup: %v", dir, err)
	}
}

// TestStart_WrongPasswordRefused checks that TCP connections need the
// password: the DSN's password is what lets the exporter in, as in
// production.
func TestStart_WrongPasswordRefused(t *testing.T) {
	s := Start(t)
	cfg, err := pgx.ParseConfig(s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
}

// query runs sql on dsn and returns the int of its first row, or 0 for a
// statement without rows.
func query(t *testing.T, dsn, sql string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if !strings.HasPrefix(sql, "SELECT") {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		return 0
	}
	var v int
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestShared_OneServerFreshDatabases: tests sharing the server get one
// server and databases of their own.
func TestShared_OneServerFreshDatabases(t *testing.T) {
	a, b := Shared(t), Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	dsn1, dsn2 := a.NewDatabase(t), a.NewDatabase(t)
	if dsn1 == dsn2 {
		t.Fatalf("NewDatabase twice gave %s", dsn1)
	}
	query(t, dsn1, "CREATE TABLE only_here (v int)")
	if got := query(t, dsn2, "SELECT count(*) FROM pg_class WHERE relname = 'only_here'"); got != 0 {
		t.Fatal("a table of one database shows in the other")
	}
	defer func() {
		if recover() == nil {
			t.Error("Stop of the shared server did not panic")
		}
	}()
	a.Stop()
}
