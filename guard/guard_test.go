package guard

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

func TestRun_FencesEachDomainOncePerLapse(t *testing.T) {
	listed := []Domain{
		{ID: "a", Name: "web", Action: ActionDestroy},
		{ID: "b", Name: "db", Action: ActionPause},
		{ID: "c", Name: "batch", Action: ActionKeep},
		{ID: "d", Name: "old", Action: ""}, // empty is destroy
	}
	cases := []struct {
		name    string
		domains []Domain
		host    []hypervisor.Domain // nil: the fencer cannot list
		want    []string
	}{
		{name: "listed domains", domains: listed,
			want: []string{"destroy a", "destroy d", "suspend b"}},
		{name: "no domains file", want: nil},
		{name: "unlisted running domains are destroyed", domains: listed,
			host: []hypervisor.Domain{
				{ID: "a", State: hypervisor.StateRunning},
				{ID: "c", State: hypervisor.StateRunning},
				{ID: "x", State: hypervisor.StateRunning},
				{ID: "y", State: hypervisor.StatePaused},
				{ID: "z", State: hypervisor.StateStopped},
			},
			want: []string{"destroy a", "destroy d", "destroy x", "destroy y", "suspend b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLease(t)
			if tc.domains != nil {
				if err := l.SetDomains(tc.domains); err != nil {
					t.Fatal(err)
				}
			}
			fake := newFakeFencer()
			var fencer Fencer = fake
			if tc.host != nil {
				fencer = &listFencer{fakeFencer: fake, domains: tc.host}
			}
			startGuard(t, l, fencer, "")

			lapse(l)
			waitFor(t, "the first fence", func() bool { return l.Fences() == 1 })
			if !l.Fenced() || l.Fencing() {
				t.Fatalf("after the fence: Fenced=%v Fencing=%v, want true false", l.Fenced(), l.Fencing())
			}
			waitBeats(t, l, 5)
			if got := fake.recorded(); !slices.Equal(got, tc.want) {
				t.Fatalf("first lapse: calls %q, want %q", got, tc.want)
			}

			// A renewal re-arms the guard; the next lapse fences again.
			lapse(l)
			if l.Fenced() {
				t.Fatal("Fenced still true after a renewal")
			}
			waitFor(t, "the second fence", func() bool { return l.Fences() == 2 })
			waitBeats(t, l, 5)
			want := slices.Sorted(slices.Values(append(slices.Clone(tc.want), tc.want...)))
			if got := fake.recorded(); !slices.Equal(got, want) {
				t.Fatalf("second lapse: calls %q, want %q", got, want)
			}
		})
	}
}

func TestRun_NoFenceBeforeDeadline(t *testing.T) {
	cases := []struct {
		name  string
		renew func(*Lease)
	}{
		{name: "zero deadline", renew: func(*Lease) {}},
		{name: "deadline ahead", renew: func(l *Lease) { l.Renew(time.Now().Add(time.Hour)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLease(t)
			if err := l.SetDomains([]Domain{{ID: "a", Action: ActionDestroy}}); err != nil {
				t.Fatal(err)
			}
			fake := newFakeFencer()
			startGuard(t, l, fake, "")
			tc.renew(l)
			waitBeats(t, l, 10)
			if got := fake.recorded(); len(got) != 0 || l.Fences() != 0 {
				t.Fatalf("fenced %q (%d fences) before any deadline passed", got, l.Fences())
			}
		})
	}
}

func TestRun_DisarmExitsWithoutFencing(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a", Action: ActionDestroy}}); err != nil {
		t.Fatal(err)
	}
	fake := newFakeFencer()
	rg := startGuard(t, l, fake, "")
	l.Renew(time.Now().Add(time.Hour))
	l.Disarm()
	l.RenewMonotonic(MonotonicNow() + 1) // passes at once: disarm must still win
	if err := rg.exited(t); !errors.Is(err, ErrDisarmed) {
		t.Fatalf("Run returned %v, want ErrDisarmed", err)
	}
	if got := fake.recorded(); len(got) != 0 {
		t.Fatalf("a disarmed guard fenced: %q", got)
	}
}

func TestRun_RetriesFailedFence(t *testing.T) {
	l := newTestLease(t)
	if err := l.SetDomains([]Domain{{ID: "a"}, {ID: "b"}}); err != nil {
		t.Fatal(err)
	}
	fake := newFakeFencer()
	fake.fail["b"] = 2
	startGuard(t, l, fake, "")
	lapse(l)
	waitFor(t, "a fence that succeeds", func() bool { return l.Fences() == 1 })
	want := []string{"destroy a", "destroy a", "destroy a", "destroy b", "destroy b", "destroy b"}
	if got := fake.recorded(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

func TestRun_ExitReasons(t *testing.T) {
	deadPID := func(t *testing.T) int64 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		return int64(cmd.Process.Pid)
	}
	cases := []struct {
		name      string
		before    func(t *testing.T, l *Lease) // before the guard starts
		after     func(t *testing.T, l *Lease) // once it runs
		want      error
		wantFence bool
		failFence bool
	}{
		{name: "another agent took over", want: ErrSuperseded,
			after: func(_ *testing.T, l *Lease) { l.store(offOwnerPID, int64(os.Getppid())) }},
		{name: "another guard took over", want: ErrSuperseded,
			after: func(_ *testing.T, l *Lease) { l.store(offGuardPID, int64(os.Getppid())) }},
		{name: "dead agent never armed", want: ErrOwnerGone,
			after: func(t *testing.T, l *Lease) { l.store(offOwnerPID, deadPID(t)) }},
		{name: "dead agent: fence, then exit", want: ErrOwnerGone, wantFence: true,
			before: func(t *testing.T, l *Lease) { l.store(offOwnerPID, deadPID(t)); lapse(l) }},
		{name: "dead agent, the fence keeps failing: give up", want: ErrOwnerGone, wantFence: true, failFence: true,
			before: func(t *testing.T, l *Lease) { l.store(offOwnerPID, deadPID(t)); lapse(l) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLease(t)
			if err := l.SetDomains([]Domain{{ID: "a"}}); err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(t, l)
			}
			fake := newFakeFencer()
			if tc.failFence {
				fake.fail["a"] = 1 << 30
			}
			rg := startGuard(t, l, fake, "")
			if tc.after != nil {
				tc.after(t, l)
			}
			if err := rg.exited(t); !errors.Is(err, tc.want) {
				t.Fatalf("Run returned %v, want %v", err, tc.want)
			}
			if fenced := len(fake.recorded()) > 0; fenced != tc.wantFence {
				t.Fatalf("fenced=%v, want %v", fenced, tc.wantFence)
			}
		})
	}
}

func TestRun_FencesTheLatestDomainsList(t *testing.T) {
	l := newTestLease(t)
	fake := newFakeFencer()
	startGuard(t, l, fake, "")
	steps := []struct {
		domains []Domain
		want    []string
	}{
		{domains: []Domain{{ID: "a"}}, want: []string{"destroy a"}},
		{domains: []Domain{{ID: "a", Action: ActionKeep}, {ID: "b", Action: ActionPause}}, want: []string{"destroy a", "suspend b"}},
	}
	for i, st := range steps {
		if err := l.SetDomains(st.domains); err != nil {
			t.Fatal(err)
		}
		waitBeats(t, l, 2) // the guard has read the new list
		lapse(l)
		waitFor(t, "the fence", func() bool { return l.Fences() == uint64(i+1) })
		if got := fake.recorded(); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: calls %q, want %q", i, got, st.want)
		}
	}
}
