package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// newHosts returns sim hosts named host-1..host-n that reach only each other.
func newHosts(t *testing.T, n int, memMiB int64) []*Driver {
	t.Helper()
	reg := NewRegistry()
	var out []*Driver
	for i := 1; i <= n; i++ {
		d := New(Config{Name: fmt.Sprintf("host-%d", i), MemoryMiB: memMiB, Registry: reg})
		t.Cleanup(func() { d.Close() })
		out = append(out, d)
	}
	return out
}

func mustStart(t *testing.T, d *Driver, s hypervisor.DomainSpec) {
	t.Helper()
	if err := d.Start(context.Background(), s); err != nil {
		t.Fatalf("start %s: %v", s.ID, err)
	}
}

// drain returns the events buffered so far.
func drain(d *Driver) []hypervisor.Event {
	var out []hypervisor.Event
	for {
		select {
		case ev := <-d.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func reasons(evs []hypervisor.Event) string {
	var parts []string
	for _, ev := range evs {
		parts = append(parts, string(ev.State)+"/"+ev.Reason)
	}
	return strings.Join(parts, " ")
}

func noCrash(t *testing.T, evs []hypervisor.Event) {
	t.Helper()
	for _, ev := range evs {
		if ev.State == hypervisor.StateCrashed {
			t.Fatalf("crash event in %s", reasons(evs))
		}
	}
}

func freeMiB(t *testing.T, d *Driver) int64 {
	t.Helper()
	c, err := d.Capacity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.FreeMemoryMiB
}

func TestMigrate_LiveMovesTheDomainWithItsNewGeneration(t *testing.T) {
	h := newHosts(t, 2, 4096)
	a, b := h[0], h[1]
	mustStart(t, a, spec("vm1", 1024))
	drain(a)
	var reports []hypervisor.MigrateProgress
	res, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Live: true, Generation: 4},
		func(p hypervisor.MigrateProgress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) < 2 || reports[0].DataTotal != 1024<<20 || reports[len(reports)-1].DataProcessed == 0 {
		t.Fatalf("progress reports %+v", reports)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].DataProcessed < reports[i-1].DataProcessed || reports[i].Elapsed < reports[i-1].Elapsed {
			t.Fatalf("progress goes backwards: %+v", reports)
		}
	}
	if res.Total <= 0 || res.Downtime <= 0 || res.Downtime >= res.Total || res.DataTotal != 1024<<20 ||
		res.DataTransferred <= res.DataTotal || res.Iterations != 2 {
		t.Fatalf("result %+v", res)
	}
	if res.Total > time.Second {
		t.Fatalf("a 1 GiB sim migration took %s; the defaults should keep it quick", res.Total)
	}
	if _, err := a.Inspect(context.Background(), "vm1"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("source still has the domain: %v", err)
	}
	got := mustState(t, b, "vm1", hypervisor.StateRunning)
	if got.Generation != 4 || got.MemoryMiB != 1024 || got.Name != "vm-vm1" {
		t.Fatalf("on the destination: %+v", got)
	}
	if fa, fb := freeMiB(t, a), freeMiB(t, b); fa != 4096 || fb != 3072 {
		t.Fatalf("free memory after the move: source %d, destination %d", fa, fb)
	}
	srcEvs, dstEvs := drain(a), drain(b)
	if got, want := reasons(srcEvs), "paused/migrated stopped/migrated stopped/undefined"; got != want {
		t.Fatalf("source events %q, want %q", got, want)
	}
	if got, want := reasons(dstEvs), "paused/migrating running/migrated"; got != want {
		t.Fatalf("destination events %q, want %q", got, want)
	}
	// The domain lives on at the destination: it can stop, and migrate back.
	if _, err := b.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: a.URI(), Live: true, Generation: 5}, nil); err != nil {
		t.Fatalf("migrate back: %v", err)
	}
	if got := mustState(t, a, "vm1", hypervisor.StateRunning); got.Generation != 5 {
		t.Fatalf("back on the source: %+v", got)
	}
}

func TestMigrate_WarmPausesForTheCopy(t *testing.T) {
	h := newHosts(t, 2, 4096)
	a, b := h[0], h[1]
	mustStart(t, a, spec("vm1", 512))
	drain(a)
	var during []hypervisor.DomainState
	res, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Generation: 7},
		func(hypervisor.MigrateProgress) {
			dom, _ := a.Inspect(context.Background(), "vm1")
			during = append(during, dom.State)
		})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range during {
		if st != hypervisor.StatePaused {
			t.Fatalf("source states during a warm copy: %v", during)
		}
	}
	if res.Downtime != res.Total || res.Iterations != 1 {
		t.Fatalf("warm result %+v: the guest is paused throughout", res)
	}
	if got := mustState(t, b, "vm1", hypervisor.StateRunning); got.Generation != 7 {
		t.Fatalf("on the destination: %+v", got)
	}
	noCrash(t, drain(a))
}

func TestMigrate_PausedDomainArrivesPaused(t *testing.T) {
	h := newHosts(t, 2, 4096)
	a, b := h[0], h[1]
	mustStart(t, a, spec("vm1", 256))
	if err := a.Suspend(context.Background(), "vm1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Live: true}, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustState(t, b, "vm1", hypervisor.StatePaused); got.Generation != 3 {
		t.Fatalf("generation 0 in the options must keep the domain's: %+v", got)
	}
}

func TestMigrate_CancelLeavesTheDomainWhereItWas(t *testing.T) {
	for _, live := range []bool{true, false} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			h := newHosts(t, 2, 4096)
			a, b := h[0], h[1]
			mustStart(t, a, spec("vm1", 1024))
			drain(a)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// 1 MiB/s: the copy would take 17 minutes.
			_, err := a.Migrate(ctx, "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Live: live, Generation: 2, BandwidthMiBps: 1},
				func(p hypervisor.MigrateProgress) {
					if p.Elapsed > 0 {
						if dom, err := b.Inspect(context.Background(), "vm1"); err != nil || dom.State != hypervisor.StatePaused || dom.Reason != "migrating" {
							t.Errorf("destination during the copy: %+v, %v", dom, err)
						}
						cancel()
					}
				})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want one wrapping context.Canceled", err)
			}
			if got := mustState(t, a, "vm1", hypervisor.StateRunning); got.Generation != 3 {
				t.Fatalf("source after the cancel: %+v", got)
			}
			if _, err := b.Inspect(context.Background(), "vm1"); !errors.Is(err, hypervisor.ErrNotFound) {
				t.Fatalf("destination after the cancel: %v", err)
			}
			if free := freeMiB(t, b); free != 4096 {
				t.Fatalf("destination still holds %d MiB", 4096-free)
			}
			srcEvs, dstEvs := drain(a), drain(b)
			noCrash(t, srcEvs)
			noCrash(t, dstEvs)
			if got, want := reasons(dstEvs), "paused/migrating stopped/incoming migration failed stopped/undefined"; got != want {
				t.Fatalf("destination events %q, want %q", got, want)
			}
			if !live && reasons(srcEvs) != "paused/migrated running/migration canceled" {
				t.Fatalf("source events of a cancelled warm migration: %q", reasons(srcEvs))
			}
		})
	}
}

func TestMigrate_RefusesAndTheDomainStays(t *testing.T) {
	h := newHosts(t, 3, 2048)
	a, b, small := h[0], h[1], h[2]
	mustStart(t, a, spec("vm1", 1024))
	mustStart(t, a, spec("stopped", 128))
	if err := a.Destroy(context.Background(), "stopped"); err != nil {
		t.Fatal(err)
	}
	mustStart(t, small, spec("filler", 1536))
	mustStart(t, b, spec("twin", 128))
	mustStart(t, a, spec("twin", 128))
	ctx := context.Background()
	for name, c := range map[string]struct {
		id   string
		opts hypervisor.MigrateOptions
		want error
	}{
		"no destination":      {"vm1", hypervisor.MigrateOptions{}, hypervisor.ErrInvalidSpec},
		"itself":              {"vm1", hypervisor.MigrateOptions{DestURI: a.URI()}, hypervisor.ErrInvalidSpec},
		"bad compression":     {"vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Compression: "rar"}, hypervisor.ErrInvalidSpec},
		"negative parallel":   {"vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Parallel: -1}, hypervisor.ErrInvalidSpec},
		"warm post-copy":      {"vm1", hypervisor.MigrateOptions{DestURI: b.URI(), PostCopy: true}, hypervisor.ErrInvalidSpec},
		"not in this process": {"vm1", hypervisor.MigrateOptions{DestURI: "sim://nowhere"}, hypervisor.ErrMigrationUnsupported},
		"not a sim host":      {"vm1", hypervisor.MigrateOptions{DestURI: "qemu+tcp://h2/system"}, hypervisor.ErrMigrationUnsupported},
		"no room there":       {"vm1", hypervisor.MigrateOptions{DestURI: small.URI()}, hypervisor.ErrInsufficientResources},
		"unknown domain":      {"nope", hypervisor.MigrateOptions{DestURI: b.URI()}, hypervisor.ErrNotFound},
		"stopped domain":      {"stopped", hypervisor.MigrateOptions{DestURI: b.URI()}, ErrState},
		"running there":       {"twin", hypervisor.MigrateOptions{DestURI: b.URI()}, ErrState},
	} {
		_, err := a.Migrate(ctx, c.id, c.opts, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
	if got := mustState(t, a, "vm1", hypervisor.StateRunning); got.Generation != 3 {
		t.Fatalf("after the refusals: %+v", got)
	}
	if free := freeMiB(t, small); free != 512 {
		t.Fatalf("the full host holds %d MiB free, want 512", free)
	}
	noCrash(t, drain(a))
	// A host that closed is no longer reachable.
	b.Close()
	if _, err := a.Migrate(ctx, "vm1", hypervisor.MigrateOptions{DestURI: b.URI()}, nil); !errors.Is(err, hypervisor.ErrMigrationUnsupported) {
		t.Fatalf("to a closed host: %v", err)
	}
}

func TestMigrate_SameDomainTwiceAtOnceIsRefused(t *testing.T) {
	h := newHosts(t, 3, 4096)
	a, b, c := h[0], h[1], h[2]
	mustStart(t, a, spec("vm1", 1024))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := a.Migrate(ctx, "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Live: true, BandwidthMiBps: 1},
			func(hypervisor.MigrateProgress) { once.Do(func() { close(started) }) })
		done <- err
	}()
	<-started
	if _, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: c.URI(), Live: true}, nil); !errors.Is(err, ErrState) {
		t.Fatalf("second migration at once: %v, want ErrState", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first migration: %v", err)
	}
	if _, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: c.URI(), Live: true}, nil); err != nil {
		t.Fatalf("migrating once the first is over: %v", err)
	}
}

func TestMigrate_CrossingMigrationsDoNotDeadlock(t *testing.T) {
	h := newHosts(t, 2, 1<<20)
	a, b := h[0], h[1]
	const n = 20
	for i := range n {
		mustStart(t, a, spec(fmt.Sprintf("a%d", i), 64))
		mustStart(t, b, spec(fmt.Sprintf("b%d", i), 64))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := a.Migrate(context.Background(), fmt.Sprintf("a%d", i), hypervisor.MigrateOptions{DestURI: b.URI(), Live: true}, nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := b.Migrate(context.Background(), fmt.Sprintf("b%d", i), hypervisor.MigrateOptions{DestURI: a.URI()}, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	la, _ := a.List(context.Background())
	lb, _ := b.List(context.Background())
	if len(la) != n || len(lb) != n || la[0].ID != "b0" || lb[0].ID != "a0" {
		t.Fatalf("after crossing: a has %d (%s...), b has %d (%s...)", len(la), la[0].ID, len(lb), lb[0].ID)
	}
}

func TestInspectRemote_FindsTheDomainOnAnotherHost(t *testing.T) {
	h := newHosts(t, 2, 4096)
	a, b := h[0], h[1]
	mustStart(t, b, spec("vm1", 256))
	ctx := context.Background()
	if got, err := a.InspectRemote(ctx, b.URI(), "vm1"); err != nil || got.State != hypervisor.StateRunning || got.Generation != 3 {
		t.Fatalf("InspectRemote = %+v, %v", got, err)
	}
	if _, err := a.InspectRemote(ctx, b.URI(), "nope"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("unknown domain: %v", err)
	}
	if _, err := a.InspectRemote(ctx, "qemu:///system", "vm1"); !errors.Is(err, hypervisor.ErrMigrationUnsupported) {
		t.Fatalf("not a sim host: %v", err)
	}
	b.Close()
	if _, err := a.InspectRemote(ctx, b.URI(), "vm1"); !errors.Is(err, hypervisor.ErrUnavailable) {
		t.Fatalf("closed host: %v, want ErrUnavailable", err)
	}
}

func TestRegistry_ProcessWideByDefaultNewestWins(t *testing.T) {
	name := fmt.Sprintf("registry-test-%d", time.Now().UnixNano())
	a := New(Config{Name: name + "-a"})
	defer a.Close()
	old := New(Config{Name: name + "-b"})
	b := New(Config{Name: name + "-b"}) // a restart before the old driver closed
	defer b.Close()
	old.Close() // must not take b out
	mustStart(t, a, spec("vm1", 128))
	if _, err := a.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: b.URI(), Live: true}, nil); err != nil {
		t.Fatalf("migrate through the process-wide registry: %v", err)
	}
	mustState(t, b, "vm1", hypervisor.StateRunning)
	// A driver in another registry is out of reach.
	other := New(Config{Name: name + "-c", Registry: NewRegistry()})
	defer other.Close()
	if _, err := b.Migrate(context.Background(), "vm1", hypervisor.MigrateOptions{DestURI: other.URI(), Live: true}, nil); !errors.Is(err, hypervisor.ErrMigrationUnsupported) {
		t.Fatalf("to another registry: %v", err)
	}
}
