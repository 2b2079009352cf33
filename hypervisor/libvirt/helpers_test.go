package libvirt

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

const testURI = "test:///default"

// requireLibvirt skips the test when libvirt.so.0 cannot be loaded here.
func requireLibvirt(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("libvirt library not available: %v", err)
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("NOVACRON_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newTestDriver opens a driver on libvirt's in-process test driver, with short
// timers. Drivers opened together share the test driver's state; it resets when
// the last connection closes.
func newTestDriver(t *testing.T) *Driver {
	t.Helper()
	requireLibvirt(t)
	d, err := New(Config{
		URI: testURI, Logger: testLogger(), ResyncInterval: 200 * time.Millisecond,
		ShutdownPoll: 20 * time.Millisecond, RebootTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", testURI, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// rawConn is a plain libvirt connection for acting behind the driver's back.
func rawConn(t *testing.T, uri string) *golibvirt.Connect {
	t.Helper()
	c, err := golibvirt.NewConnect(uri)
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func testSpec(t *testing.T, name string) hypervisor.DomainSpec {
	return hypervisor.DomainSpec{
		ID: newID(t), Name: name, Generation: 1, VCPUs: 1, MemoryMiB: 64,
		Boot: &hypervisor.BootSource{Kernel: "/boot/vmlinuz-test", Initrd: "/boot/initrd-test"},
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitEvent waits for an event about id that satisfies match, skipping others.
func waitEvent(t *testing.T, d *Driver, id string, within time.Duration, match func(hypervisor.Event) bool) hypervisor.Event {
	t.Helper()
	deadline := time.After(within)
	var seen []hypervisor.Event
	for {
		select {
		case ev, ok := <-d.Events():
			if !ok {
				t.Fatalf("events channel closed; saw %v", seen)
			}
			if ev.ID == id {
				if match(ev) {
					return ev
				}
				seen = append(seen, ev)
			}
		case <-deadline:
			t.Fatalf("no matching event for %s within %s; saw %v", id, within, seen)
		}
	}
}

func stateIs(st hypervisor.DomainState) func(hypervisor.Event) bool {
	return func(ev hypervisor.Event) bool { return ev.State == st }
}

func mustInspect(t *testing.T, d *Driver, id string) hypervisor.Domain {
	t.Helper()
	dom, err := d.Inspect(ctxT(t, 10*time.Second), id)
	if err != nil {
		t.Fatalf("Inspect %s: %v", id, err)
	}
	return dom
}

func wantState(t *testing.T, d *Driver, id string, st hypervisor.DomainState) hypervisor.Domain {
	t.Helper()
	dom := mustInspect(t, d, id)
	if dom.State != st {
		t.Fatalf("domain %s is %s (%s), want %s", id, dom.State, dom.Reason, st)
	}
	return dom
}

// pollEvery is how often the driver tests look at a condition again: some
// time what they wait for.
const pollEvery = 20 * time.Millisecond
