package libvirt

import (
	"errors"
	"github.com/novacron/novacron/internal/testutil"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	golibvirt "libvirt.org/go/libvirt"
)

func TestTestDriver_EventsFollowTheLifecycle(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "events")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StateRunning)); ev.Reason != "booted" {
		t.Fatalf("start event %+v", ev)
	}
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StatePaused))
	if err := d.Resume(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StateRunning))
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	// Destroyed on request: stopped, never crashed.
	ev := waitEvent(t, d, spec.ID, 5*time.Second, func(hypervisor.Event) bool { return true })
	if ev.State != hypervisor.StateStopped || ev.Reason != "destroyed" {
		t.Fatalf("destroy event %+v, want stopped/destroyed", ev)
	}
	if err := d.Undefine(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, d, spec.ID, 5*time.Second, func(hypervisor.Event) bool { return true }); ev.Reason != "undefined" {
		t.Fatalf("undefine event %+v", ev)
	}
}

func TestTestDriver_ResyncReportsChangesWhoseEventsWereLost(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "resync")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StateRunning))
	// Deaf: drop the event callbacks, as a lost connection would.
	d.mu.Lock()
	lc := d.conn
	d.mu.Unlock()
	for _, id := range lc.callbackIDs {
		if err := lc.c.DomainEventDeregister(id); err != nil {
			t.Fatal(err)
		}
	}
	lc.callbackIDs = nil
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if err := dom.Suspend(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ev := waitEvent(t, d, spec.ID, 5*time.Second, func(hypervisor.Event) bool { return true })
	if ev.State != hypervisor.StatePaused {
		t.Fatalf("resync event %+v, want paused", ev)
	}
	t.Logf("resync reported the change after %s (interval %s)", time.Since(start).Round(time.Millisecond), d.cfg.ResyncInterval)
}

func TestTestDriver_ReconnectsAfterTheConnectionIsLost(t *testing.T) {
	d := newTestDriver(t)
	// test:///default keeps its domains only while some connection to it is
	// open; hold one, as a real libvirtd would keep its domains across our
	// reconnect.
	keep, err := golibvirt.NewConnect(testURI)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "reconnect")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StateRunning))
	d.mu.Lock()
	old := d.conn
	d.mu.Unlock()
	d.markBroken(old, errors.New("simulated loss"))
	if _, err := d.List(ctx); err != nil && !errors.Is(err, ErrDisconnected) {
		t.Fatalf("List while reconnecting: %v, want nil or ErrDisconnected", err)
	}
	testutil.EventuallyEvery(t, 5*time.Second, pollEvery, "List works on a new connection", func() error {
		_, err := d.List(ctx)
		return err
	})
	d.mu.Lock()
	now := d.conn
	d.mu.Unlock()
	if now == old || now.seq <= old.seq {
		t.Fatalf("connection not replaced: old seq %d, now %d", old.seq, now.seq)
	}
	// Events are registered again on the new connection.
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StatePaused))
}

func TestDriver_CloseEndsEverything(t *testing.T) {
	requireLibvirt(t)
	d, err := New(Config{URI: testURI, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-d.Events(); ok {
		t.Fatal("events channel still open")
	}
	if _, err := d.List(ctxT(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v, want ErrClosed", err)
	}
}

func TestNew_FailsClearlyWhenTheURIDoesNotAnswer(t *testing.T) {
	requireLibvirt(t)
	start := time.Now()
	_, err := New(Config{URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock", Logger: testLogger(), ConnectTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("New on a dead socket succeeded")
	}
	t.Logf("error after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if _, err := New(Config{URI: testURI, VirtType: "xen", Logger: testLogger()}); err == nil {
		t.Fatal("New with virt type xen succeeded")
	}
}

func TestTestDriver_CloseReleasesTheConnection(t *testing.T) {
	requireLibvirt(t)
	d, err := New(Config{URI: testURI, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	spec := testSpec(t, "refs")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// Every call that hands out domain objects, so a missing Free shows.
	d.List(ctx)
	d.Foreign(ctx)
	d.Inspect(ctx, spec.ID)
	d.Inspect(ctx, foreignUUID)
	d.Capacity(ctx)
	if _, err := d.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	d.Suspend(ctx, spec.ID)
	d.Resume(ctx, spec.ID)
	d.Shutdown(ctx, spec.ID, time.Second)
	d.Undefine(ctx, spec.ID)
	// libvirt's event loop holds a reference to a domain while it delivers that
	// domain's event: let the events of the calls above arrive first.
	for quiet := false; !quiet; {
		select {
		case <-d.Events():
		case <-time.After(500 * time.Millisecond):
			quiet = true
		}
	}
	d.mu.Lock()
	lc := d.conn
	d.mu.Unlock()
	d.Close()
	// A connection whose last reference is gone refuses another Close; a
	// leaked reference would let this one succeed.
	if n, err := lc.c.Close(); err == nil {
		t.Fatalf("connection still referenced after Close (Close returned %d): a libvirt object leaked", n)
	}
}
