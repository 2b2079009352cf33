package guard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenLease_CreatesOwnsAndKeepsDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard.lease")
	l, err := OpenLease(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != leaseSize || st.Mode().Perm() != 0o600 {
		t.Fatalf("lease file: %v, %v", st, err)
	}
	if l.load(offMagic) != leaseMagic || l.load(offVersion) != leaseVersion {
		t.Fatal("header not written")
	}
	if got := l.load(offOwnerPID); got != int64(os.Getpid()) {
		t.Fatalf("owner %d, want %d", got, os.Getpid())
	}
	if l.Deadline() != 0 || l.GuardAlive(time.Hour) {
		t.Fatal("a new lease is armed or has a guard")
	}
	l.Renew(time.Now().Add(time.Minute))
	l.Disarm()
	deadline := l.Deadline()
	l.Close()

	// A restarted agent keeps the deadline (the leader still counts from it)
	// and clears the disarm.
	l2, err := OpenLease(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Deadline() != deadline || l2.load(offDisarm) != 0 {
		t.Fatalf("reopened: deadline %d disarm %d, want %d 0", l2.Deadline(), l2.load(offDisarm), deadline)
	}
}

func TestOpenLease_ResetsAnotherBootsFile(t *testing.T) {
	l := newTestLease(t)
	l.Renew(time.Now().Add(time.Minute))
	l.store(offBootLo, l.load(offBootLo)+1)
	l2, err := OpenLease(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Deadline() != 0 {
		t.Fatal("a deadline of another boot survived")
	}
}

func TestGuardLease_RefusesWhatIsNotALease(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty":     nil,
		"short":     []byte("hello"),
		"no magic":  make([]byte, leaseSize),
		"not there": nil,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if name != "not there" {
				if err := os.WriteFile(path, content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if l, err := openGuardLease(path); err == nil {
				l.Close()
				t.Fatal("the guard mapped a file that is not a lease")
			}
		})
	}
}

func TestLease_RenewOnlyMovesForward(t *testing.T) {
	l := newTestLease(t)
	before := MonotonicNow()
	l.Renew(time.Now().Add(time.Minute))
	d := l.Deadline()
	if d < before+int64(time.Minute)-int64(time.Second) || d > MonotonicNow()+int64(time.Minute) {
		t.Fatalf("deadline %d is not a minute from monotonic now %d", d, before)
	}
	l.Renew(time.Now().Add(time.Second))
	l.RenewMonotonic(d - 1)
	if l.Deadline() != d {
		t.Fatal("an earlier deadline replaced a later one")
	}
	l.RenewMonotonic(d + 1)
	if l.Deadline() != d+1 {
		t.Fatal("a later deadline was ignored")
	}
}

func TestLease_SetDomains(t *testing.T) {
	l := newTestLease(t)
	if got, err := readDomains(l.Path()); err != nil || len(got) != 0 {
		t.Fatalf("no side file: %v %v, want an empty list", got, err)
	}
	gen := l.load(offDomainsGen)
	if err := l.SetDomains([]Domain{{ID: "a", Name: "web"}, {ID: "b", Action: ActionPause}}); err != nil {
		t.Fatal(err)
	}
	if l.load(offDomainsGen) != gen+1 {
		t.Fatal("the generation did not move")
	}
	got, err := readDomains(l.Path())
	if err != nil || len(got) != 2 || got["a"].Action != ActionDestroy || got["b"].Action != ActionPause || got["a"].Name != "web" {
		t.Fatalf("read back %v, %v", got, err)
	}

	bad := map[string][]Domain{
		"no id":          {{Action: ActionDestroy}},
		"unknown action": {{ID: "a", Action: "reboot"}},
		"too many":       make([]Domain, MaxDomains+1),
	}
	for name, doms := range bad {
		if err := l.SetDomains(doms); err == nil {
			t.Errorf("%s: SetDomains accepted it", name)
		}
	}
	if err := l.SetDomains(make([]Domain, MaxDomains+1)); !errors.Is(err, ErrTooManyDomains) {
		t.Errorf("too many: %v, want ErrTooManyDomains", err)
	}
	if got, _ := readDomains(l.Path()); len(got) != 2 {
		t.Fatal("a refused list replaced the file")
	}
	many := make([]Domain, MaxDomains)
	for i := range many {
		many[i] = Domain{ID: fmt.Sprintf("%036d", i), Name: fmt.Sprintf("vm-%d-with-a-long-name", i), Action: ActionPause}
	}
	if err := l.SetDomains(many); err != nil {
		t.Fatal(err)
	}
	if got, err := readDomains(l.Path()); err != nil || len(got) != MaxDomains {
		t.Fatalf("the largest list: %d entries, %v", len(got), err)
	}
}

func TestRun_WatchdogPettedOnlyWhileSafe(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		st, err := os.Stat(dev)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	fake := newFakeFencer()
	fake.block = make(chan struct{})
	rg := startGuard(t, l, fake, dev)

	// Never armed: safe.
	s := size()
	waitBeats(t, l, 3)
	if size() <= s {
		t.Fatal("not petted before the first renewal")
	}
	// Deadline passed, fence under way (blocked): not safe.
	lapse(l)
	fake.waitEntered(t)
	s = size()
	waitBeats(t, l, 5)
	if size() != s {
		t.Fatal("petted while the fence was under way")
	}
	// Fence finished: safe again.
	close(fake.block)
	waitFor(t, "the fence", func() bool { return l.Fences() == 1 })
	s = size()
	waitBeats(t, l, 3)
	if size() <= s {
		t.Fatal("not petted after the fence finished")
	}
	// Renewed: safe; a clean stop writes the magic close character.
	l.Renew(time.Now().Add(time.Hour))
	l.Disarm()
	if err := rg.exited(t); !errors.Is(err, ErrDisarmed) {
		t.Fatalf("Run: %v", err)
	}
	b, _ := os.ReadFile(dev)
	if len(b) == 0 || b[len(b)-1] != 'V' {
		t.Fatalf("watchdog file ends %q, want 'V'", b[max(0, len(b)-3):])
	}
	for _, c := range b[:len(b)-1] {
		if c != '1' {
			t.Fatalf("watchdog got %q", c)
		}
	}
}

func TestRun_WatchdogLeftArmedOnUnsafeExit(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFakeFencer()
	fake.fail["a"] = 1 << 30 // the fence never succeeds
	rg := startGuard(t, l, fake, dev)
	lapse(l)
	fake.waitEntered(t)
	rg.cancel()
	if err := rg.exited(t); err == nil {
		t.Fatal("Run returned nil after cancel")
	}
	if b, _ := os.ReadFile(dev); len(b) > 0 && b[len(b)-1] == 'V' {
		t.Fatal("an unsafe exit disarmed the watchdog")
	}
}
