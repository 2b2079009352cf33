package labrun

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLock_OneRunSharesAnotherWaitsThenFails(t *testing.T) {
	dir := t.TempDir()
	a1, err := AcquireLock(dir, "run-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	// A second process of the same run (flock is per open file, so a second
	// open in this process stands for it) joins.
	a2, err := AcquireLock(dir, "run-a", 0)
	if err != nil {
		t.Fatalf("same run: %v", err)
	}
	start := time.Now()
	_, err = AcquireLock(dir, "run-b", 600*time.Millisecond)
	waited := time.Since(start)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("other run: %v, want ErrBusy", err)
	}
	if waited < 600*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("other run gave up after %s, want about 600ms", waited)
	}
	msg := err.Error()
	for _, want := range []string{"the lab is busy: held by pid", " since ", "waited 600ms"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("busy message %q lacks %q", msg, want)
		}
	}
	t.Logf("busy message: %s", msg)
	// The run's first process ends; the lock stays the run's while another holds it.
	a1.Release()
	if _, err := AcquireLock(dir, "run-b", 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("other run while run-a still holds it: %v, want ErrBusy", err)
	}
	a2.Release()
	b, err := AcquireLock(dir, "run-b", 0)
	if err != nil {
		t.Fatalf("after run-a released: %v", err)
	}
	if b.Owner.Run != "run-b" || len(b.Owner.Holders) != 1 || b.Owner.Holders[0].PID != os.Getpid() {
		t.Fatalf("owner %+v", b.Owner)
	}
	b.Release()
}

func TestLock_WaiterGetsItWhenReleased(t *testing.T) {
	dir := t.TempDir()
	a, err := AcquireLock(dir, "run-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		b, err := AcquireLock(dir, "run-b", 30*time.Second)
		if err == nil {
			b.Release()
		}
		got <- err
	}()
	a.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the released lock within 10s")
	}
}

// TestLock_HelperHolder holds the lock for TestLock_FreedWhenTheHolderDies.
func TestLock_HelperHolder(t *testing.T) {
	dir := os.Getenv("LABRUN_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := AcquireLock(dir, "run-dead", 0); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	select {} // until killed
}

func TestLock_FreedWhenTheHolderDies(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLock_HelperHolder$")
	cmd.Env = append(os.Environ(), "LABRUN_TEST_LOCK_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	_, err = AcquireLock(dir, "run-live", 0)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "TestLock_HelperHolder") {
		t.Fatalf("while the helper holds it: %v, want ErrBusy naming the helper", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := AcquireLock(dir, "run-live", 10*time.Second)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Release()
}

func TestThisRun_IsTheParentWithItsStartTime(t *testing.T) {
	t.Setenv(RunEnv, "")
	r := ThisRun()
	if !strings.HasPrefix(r, "pid ") || strings.HasSuffix(r, "started ?") {
		t.Fatalf("ThisRun() = %q", r)
	}
	t.Setenv(RunEnv, "ci-42")
	if r := ThisRun(); r != "ci-42" {
		t.Fatalf("ThisRun() with %s = %q", RunEnv, r)
	}
}
