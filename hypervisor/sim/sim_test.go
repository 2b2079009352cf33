package sim

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// fakeClock is a clock tests move by hand, so CPU time is exact.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestDriver(t *testing.T, memMiB int64) (*Driver, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := New(Config{Name: "host-1", VCPUs: 4, MemoryMiB: memMiB, DiskGiB: 100, Labels: map[string]string{"rack": "r1"}, Now: clk.Now})
	t.Cleanup(func() { d.Close() })
	return d, clk
}

func spec(id string, memMiB int64) hypervisor.DomainSpec {
	return hypervisor.DomainSpec{ID: id, Name: "vm-" + id, Generation: 3, VCPUs: 2, MemoryMiB: memMiB, DiskGiB: 10}
}

// nextEvent returns the next event or fails after a deadline.
func nextEvent(t *testing.T, d *Driver) hypervisor.Event {
	t.Helper()
	select {
	case ev := <-d.Events():
		return ev
	case <-time.After(2 * time.Second):
		t.Fatal("no event")
		return hypervisor.Event{}
	}
}

func noEvent(t *testing.T, d *Driver) {
	t.Helper()
	select {
	case ev := <-d.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

func mustState(t *testing.T, d *Driver, id string, want hypervisor.DomainState) hypervisor.Domain {
	t.Helper()
	dom, err := d.Inspect(context.Background(), id)
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	if dom.State != want {
		t.Fatalf("domain %s is %s, want %s", id, dom.State, want)
	}
	return dom
}

func TestNew_Defaults(t *testing.T) {
	d := New(Config{})
	defer d.Close()
	c, err := d.Capacity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := hypervisor.Capacity{VCPUs: 8, MemoryMiB: 16384, FreeMemoryMiB: 16384, DiskGiB: 200}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("capacity %+v, want %+v", c, want)
	}
	if d.Name() != "sim" || d.URI() != "sim://" {
		t.Fatalf("name %q uri %q", d.Name(), d.URI())
	}
}

func TestDriver_Identity(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	if d.URI() != "sim://host-1" {
		t.Fatalf("uri %q", d.URI())
	}
	l := d.Labels()
	if l["hypervisor"] != "sim" || l["rack"] != "r1" || len(l) != 2 {
		t.Fatalf("labels %v", l)
	}
	l["rack"] = "changed"
	if d.Labels()["rack"] != "r1" {
		t.Fatal("Labels returned the driver's own map")
	}
}

func TestList_SortedByID(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	for _, id := range []string{"c", "a", "b"} {
		if err := d.Start(ctx, spec(id, 256)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	l, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 3 || l[0].ID != "a" || l[1].ID != "b" || l[2].ID != "c" {
		t.Fatalf("list %+v", l)
	}
	if l[1].State != hypervisor.StateStopped {
		t.Fatalf("b is %s, want stopped", l[1].State)
	}
}

func TestStats_CPUGrowsWhileRunning(t *testing.T) {
	d, clk := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec("b", 512)); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	st, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st["b"]; ok || len(st) != 1 {
		t.Fatalf("stats hold a stopped domain: %+v", st)
	}
	a := st["a"]
	// 10 s × 2 vCPUs × 5% load.
	if a.CPUTime != time.Second || a.MemoryMiB != 1024 {
		t.Fatalf("stats %+v, want 1s CPU and 1024 MiB", a)
	}
	if a.DiskRead == 0 || a.NetRxBytes == 0 {
		t.Fatalf("counters did not grow: %+v", a)
	}
	// Paused: CPU time stands still, and resumes growing after Resume.
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	st, _ = d.Stats(ctx)
	if st["a"].CPUTime != time.Second {
		t.Fatalf("CPU grew while paused: %v", st["a"].CPUTime)
	}
	if err := d.Resume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	st, _ = d.Stats(ctx)
	if st["a"].CPUTime != 2*time.Second || st["a"].DiskRead <= a.DiskRead {
		t.Fatalf("stats after resume %+v", st["a"])
	}
}

func TestEvents_DroppedWhenFull(t *testing.T) {
	d := New(Config{MemoryMiB: 1 << 20, EventBuffer: 2})
	defer d.Close()
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c", "d"} {
		if err := d.Start(ctx, spec(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := []string{nextEvent(t, d).ID, nextEvent(t, d).ID}; got[0] != "a" || got[1] != "b" {
		t.Fatalf("events %v, want the first two", got)
	}
	noEvent(t, d)
}

func TestClose_Twice(t *testing.T) {
	d := New(DefaultConfig())
	if err := d.Start(context.Background(), spec("a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The buffered event is still delivered, then the channel reports closed.
	if ev, ok := <-d.Events(); !ok || ev.ID != "a" {
		t.Fatalf("event %+v ok=%v", ev, ok)
	}
	if _, ok := <-d.Events(); ok {
		t.Fatal("events channel still open after Close")
	}
	if err := d.Start(context.Background(), spec("b", 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v, want ErrClosed", err)
	}
	if err := d.Crash("a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("crash after close: %v, want ErrClosed", err)
	}
}

func TestDriver_CanceledContext(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Start(ctx, spec("a", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := d.List(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestDriver_ConcurrentUse(t *testing.T) {
	d := New(Config{MemoryMiB: 64, EventBuffer: 8})
	defer d.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := string(rune('a' + i))
			for j := 0; j < 50; j++ {
				_ = d.Start(ctx, spec(id, 8))
				_ = d.Suspend(ctx, id)
				_ = d.Resume(ctx, id)
				_, _ = d.Stats(ctx)
				_ = d.Destroy(ctx, id)
			}
		}(i)
	}
	// Drain events so senders see both a full and an empty buffer.
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-d.Events():
			case <-done:
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	c, err := d.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.FreeMemoryMiB != 64 {
		t.Fatalf("free %d after every domain stopped, want 64", c.FreeMemoryMiB)
	}
}
