package sim

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/novacron/novacron/hypervisor"
)

// TestSnapshots_Flow: snapshots of a running and a stopped domain, each
// kind of revert with the state and event a libvirt host gives, refusals,
// and snapshots that outlive a redefinition but not an Undefine.
func TestSnapshots_Flow(t *testing.T) {
	hosts := newHosts(t, 2, 4096)
	d, other := hosts[0], hosts[1]
	ctx := context.Background()
	mustStart(t, d, spec("a", 1024))
	for i := 0; i < 2; i++ { // the second is a no-op
		if err := d.CreateSnapshot(ctx, "a", "live"); err != nil {
			t.Fatalf("CreateSnapshot live (%d): %v", i, err)
		}
	}
	drain(d)
	wantEvent := func(state hypervisor.DomainState, reason string) {
		t.Helper()
		if evs := drain(d); len(evs) != 1 || evs[0].State != state || evs[0].Reason != reason {
			t.Fatalf("events %s, want one %s/%s", reasons(evs), state, reason)
		}
		mustState(t, d, "a", state)
	}

	// A domain with snapshots does not migrate, as on libvirt.
	if _, err := d.Migrate(ctx, "a", hypervisor.MigrateOptions{DestURI: other.URI(), Live: true}, nil); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "snapshots") {
		t.Fatalf("Migrate of a domain with snapshots: %v, want ErrState", err)
	}
	mustState(t, d, "a", hypervisor.StateRunning)
	drain(d)

	if err := d.RevertSnapshot(ctx, "a", "live", true, true); err != nil {
		t.Fatal(err)
	}
	wantEvent(hypervisor.StateRunning, "from snapshot")
	if err := d.RevertSnapshot(ctx, "a", "live", false, true); err != nil {
		t.Fatal(err)
	}
	wantEvent(hypervisor.StateRunning, "booted")
	if err := d.RevertSnapshot(ctx, "a", "live", true, false); err != nil {
		t.Fatal(err)
	}
	wantEvent(hypervisor.StateStopped, "from snapshot")
	if err := d.CreateSnapshot(ctx, "a", "off"); err != nil {
		t.Fatal(err)
	}
	if err := d.RevertSnapshot(ctx, "a", "off", true, true); err != nil {
		t.Fatal(err)
	}
	wantEvent(hypervisor.StateRunning, "booted") // no memory to go on from
	if err := d.Crash("a"); err != nil {
		t.Fatal(err)
	}
	drain(d)
	if err := d.RevertSnapshot(ctx, "a", "off", false, false); err != nil {
		t.Fatal(err)
	}
	wantEvent(hypervisor.StateStopped, "from snapshot")

	// A stopped domain starts only where its memory fits.
	mustStart(t, d, spec("b", 3584))
	if err := d.RevertSnapshot(ctx, "a", "live", true, true); !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("RevertSnapshot that starts a domain without room: %v, want ErrInsufficientResources", err)
	}
	if err := d.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := d.RevertSnapshot(ctx, "a", "nope", true, true); !errors.Is(err, ErrNoSnapshot) || errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("RevertSnapshot of a missing name: %v, want ErrNoSnapshot", err)
	}
	for _, name := range []string{"", "a b", "-x", strings.Repeat("n", 64)} {
		if err := d.CreateSnapshot(ctx, "a", name); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("CreateSnapshot %q: %v, want ErrInvalidSpec", name, err)
		}
	}
	if err := d.CreateSnapshot(ctx, "zz", "s"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("CreateSnapshot of an unknown domain: %v", err)
	}

	// A redefinition keeps them; Delete and Undefine do not.
	mustStart(t, d, spec("a", 2048))
	if got, err := d.Snapshots(ctx, "a"); err != nil || !slices.Equal(got, []string{"live", "off"}) {
		t.Fatalf("Snapshots after a redefinition = %v, %v", got, err)
	}
	for _, name := range []string{"off", "off", "never-was"} {
		if err := d.DeleteSnapshot(ctx, "a", name); err != nil {
			t.Fatalf("DeleteSnapshot %s: %v", name, err)
		}
	}
	if got, _ := d.Snapshots(ctx, "a"); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("Snapshots after delete = %v", got)
	}
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Undefine(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustStart(t, d, spec("a", 1024))
	if got, _ := d.Snapshots(ctx, "a"); len(got) != 0 {
		t.Fatalf("Snapshots of a domain defined again after Undefine = %v", got)
	}
}
