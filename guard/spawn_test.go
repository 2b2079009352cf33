package guard

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The spawn tests run the guard as a real child process: this test binary
// started again with envChild set, which TestMain turns into a guard on the
// lease file envLease whose fencer appends each call to the file envRecord.
const (
	envChild  = "NOVACRON_GUARD_TEST_CHILD"
	envLease  = "NOVACRON_GUARD_TEST_LEASE"
	envRecord = "NOVACRON_GUARD_TEST_RECORD"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childGuard())
	}
	os.Exit(m.Run())
}

// childGuard is the guard process of the spawn tests.
func childGuard() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := Run(ctx, Config{LeasePath: os.Getenv(envLease), Fencer: fileFencer(os.Getenv(envRecord)),
		Interval: testInterval, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if errors.Is(err, ErrDisarmed) || errors.Is(err, ErrSuperseded) || errors.Is(err, ErrOwnerGone) {
		return 0
	}
	return 3
}

// fileFencer records each call as a line of the file it names.
type fileFencer string

func (f fileFencer) record(line string) error {
	file, err := os.OpenFile(string(f), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = file.WriteString(line + "\n")
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}

func (f fileFencer) Destroy(_ context.Context, id string) error { return f.record("destroy " + id) }
func (f fileFencer) Suspend(_ context.Context, id string) error { return f.record("suspend " + id) }

// spawnChild starts the child guard on l, recording into a new file whose
// lines it returns through the second value.
func spawnChild(t *testing.T, l *Lease) (*Process, func() []string) {
	t.Helper()
	record := l.Path() + ".record"
	t.Setenv(envChild, "1")
	t.Setenv(envLease, l.Path())
	t.Setenv(envRecord, record)
	p, err := Spawn(l, os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(p.Pid(), syscall.SIGCONT)
		p.Kill()
		<-p.Done()
	})
	if err := p.WaitAlive(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	lines := func() []string {
		b, err := os.ReadFile(record)
		if err != nil {
			return nil
		}
		out := strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
		slices.Sort(out)
		return out
	}
	return p, lines
}

func TestSpawn_OwnProcessGroupAndHeartbeatGoesStaleWhenStopped(t *testing.T) {
	l := newTestLease(t)
	p, _ := spawnChild(t, l)
	if pgid, err := unix.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Fatalf("guard %d is in process group %d (%v), want its own", p.Pid(), pgid, err)
	}
	if mine, _ := unix.Getpgid(0); mine == p.Pid() {
		t.Fatal("the guard leads the agent's process group")
	}
	if l.GuardPID() != p.Pid() {
		t.Fatalf("GuardPID %d, want %d", l.GuardPID(), p.Pid())
	}
	const maxAge = 20 * testInterval
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stopped guard's heartbeat to go stale", func() bool { return !l.GuardAlive(maxAge) })
	if err := syscall.Kill(p.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumed guard's heartbeat", func() bool { return l.GuardAlive(maxAge) })
}

func TestSpawn_GuardFencesWhileTheAgentIsSilent(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a"}, {ID: "b", Action: ActionPause}, {ID: "c", Action: ActionKeep}}); err != nil {
		t.Fatal(err)
	}
	p, lines := spawnChild(t, l)
	lapse(l) // and never renew: the agent is frozen
	waitFor(t, "the guard's fence", func() bool { return l.Fences() == 1 })
	want := []string{"destroy_a", "suspend_b"}
	if got := lines(); !slices.Equal(got, want) {
		t.Fatalf("the guard did %q, want %q", got, want)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestSpawn_StopDisarmsWithoutFencing(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	p, lines := spawnChild(t, l)
	l.Renew(time.Now().Add(time.Hour))
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := lines(); len(got) != 0 || l.Fences() != 0 {
		t.Fatalf("a stopped guard fenced: %q", got)
	}
	if p.Err() != nil {
		t.Fatalf("exit status %v, want 0", p.Err())
	}
}
