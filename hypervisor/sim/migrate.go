package sim

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/novacron/novacron/hypervisor"
)

// Event reasons of a migration, as the libvirt driver gives them.
const (
	reasonMigrating      = "migrating"                 // destination: the domain arrives, paused
	reasonMigrated       = "migrated"                  // source: paused for the switch-over, then stopped; destination: arrived
	reasonCanceled       = "migration canceled"        // source: resumed after a failed warm migration or switch-over
	reasonIncomingFailed = "incoming migration failed" // destination: the half-copied domain is dropped
	reasonUndefined      = "undefined"
)

// dirtyShare is the share of its memory a running simulated guest dirties per
// second during a live migration; the pages dirtied during the first pass are
// copied again while the guest is paused, which is the downtime.
const dirtyShare = 0.05

// Migrate moves the running or paused domain id to the sim driver at
// opts.DestURI in this process (found in the registry). Like a libvirt host,
// the destination shows the domain paused ("migrating") while the copy runs,
// holding its memory; a warm migration pauses it on the source for the copy,
// a live one only for the switch-over. The copy takes memory /
// Config.MigrateRateMiBps (or the bandwidth cap, if slower), with progress
// reported every Config.MigrateStep. On success the domain runs (or stays
// paused) on the destination with opts.Generation (0 keeps the generation),
// and is gone from here.
//
// Events: the source emits paused "migrated" (switch-over), stopped "migrated"
// and stopped "undefined", never crashed; the destination paused "migrating"
// and then running (or paused) "migrated". After a failure or a cancel the
// source resumes what it paused ("migration canceled") and the destination
// emits stopped "incoming migration failed" and stopped "undefined".
//
// Errors: bad options wrap hypervisor.ErrInvalidSpec; a destination that is no
// live sim driver of this registry hypervisor.ErrMigrationUnsupported; not
// enough free memory there hypervisor.ErrInsufficientResources; an unknown
// domain hypervisor.ErrNotFound; a stopped one, one with snapshots (as
// libvirt), or one already migrating or already active on the destination,
// ErrState; a cancelled ctx wraps ctx.Err().
// On every error the domain stays here, in the state it had.
func (d *Driver) Migrate(ctx context.Context, id string, opts hypervisor.MigrateOptions, progress func(hypervisor.MigrateProgress)) (hypervisor.MigrateResult, error) {
	if err := opts.Check(d.URI()); err != nil {
		return hypervisor.MigrateResult{}, err
	}
	dest, err := d.reach(opts.DestURI)
	if err != nil {
		return hypervisor.MigrateResult{}, err
	}
	if progress == nil {
		progress = func(hypervisor.MigrateProgress) {}
	}
	spec, was, err := d.beginOutgoing(ctx, id, opts.Live)
	if err != nil {
		return hypervisor.MigrateResult{}, err
	}
	defer d.endOutgoing(id)
	fail := func(err error) (hypervisor.MigrateResult, error) {
		d.restore(id, was)
		return hypervisor.MigrateResult{}, err
	}
	if err := dest.prepareIncoming(spec); err != nil {
		return fail(err)
	}
	res, err := d.copyMemory(ctx, spec, opts, was, progress)
	if err != nil {
		dest.dropIncoming(id)
		return fail(fmt.Errorf("migrate domain %q to %s: aborted: %w", id, opts.DestURI, err))
	}
	final, err := d.switchOver(id)
	if err != nil {
		dest.dropIncoming(id)
		return fail(err)
	}
	gen := spec.Generation
	if opts.Generation != 0 {
		gen = opts.Generation
	}
	if err := dest.finishIncoming(id, gen, final); err != nil {
		dest.dropIncoming(id)
		return fail(fmt.Errorf("migrate domain %q to %s: %w", id, opts.DestURI, err))
	}
	d.leave(id)
	return res, nil
}

// reach finds the sim driver at uri in this driver's registry.
func (d *Driver) reach(uri string) (*Driver, error) {
	if !strings.HasPrefix(uri, "sim://") {
		return nil, fmt.Errorf("%w: %q is not a sim host; a sim driver migrates only to sim hosts in its process", hypervisor.ErrMigrationUnsupported, uri)
	}
	dest := d.registry.get(uri)
	if dest == nil {
		return nil, fmt.Errorf("%w: no sim host %q in this process: a sim host migrates live or warm only to a host of its own agent (--sim-fleet); between sim agents use --mode cold", hypervisor.ErrMigrationUnsupported, uri)
	}
	return dest, nil
}

// beginOutgoing checks the domain can leave, marks it migrating and, for a
// warm migration, pauses it. It returns a copy of its spec and its state.
func (d *Driver) beginOutgoing(ctx context.Context, id string, live bool) (hypervisor.DomainSpec, hypervisor.DomainState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return hypervisor.DomainSpec{}, "", err
	}
	switch {
	case !dom.active():
		return hypervisor.DomainSpec{}, "", fmt.Errorf("%w: cannot migrate domain %q: it is %s; only a running or paused domain migrates", ErrState, id, dom.state)
	case d.migrating[id]:
		return hypervisor.DomainSpec{}, "", fmt.Errorf("%w: domain %q is already migrating", ErrState, id)
	case len(dom.snapshots) > 0:
		// As libvirt: the snapshots live in the disks on this host.
		return hypervisor.DomainSpec{}, "", fmt.Errorf("%w: cannot migrate domain %q with %d snapshots", ErrState, id, len(dom.snapshots))
	}
	d.migrating[id] = true
	was := dom.state
	if !live && was == hypervisor.StateRunning {
		d.setState(dom, hypervisor.StatePaused, reasonMigrated)
	}
	spec := dom.spec
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Boot != nil {
		b := *spec.Boot
		spec.Boot = &b
	}
	return spec, was, nil
}

func (d *Driver) endOutgoing(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.migrating, id)
}

// restore puts a domain that did not leave back in the state it had, if the
// migration paused it.
func (d *Driver) restore(id string, was hypervisor.DomainState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dom, ok := d.domains[id]; ok && !d.closed && dom.state == hypervisor.StatePaused && dom.reason == reasonMigrated && was == hypervisor.StateRunning {
		d.setState(dom, hypervisor.StateRunning, reasonCanceled)
	}
}

// switchOver pauses the domain for the last copy and returns the state it is
// to have on the destination.
func (d *Driver) switchOver(id string) (hypervisor.DomainState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(context.Background(), id)
	if err != nil {
		return "", fmt.Errorf("migrate domain %q: it went away during the copy: %w", id, err)
	}
	switch {
	case dom.state == hypervisor.StateRunning:
		d.setState(dom, hypervisor.StatePaused, reasonMigrated)
		return hypervisor.StateRunning, nil
	case dom.state == hypervisor.StatePaused && dom.reason == reasonMigrated:
		return hypervisor.StateRunning, nil // paused by a warm migration
	case dom.state == hypervisor.StatePaused:
		return hypervisor.StatePaused, nil
	}
	return "", fmt.Errorf("%w: migrate domain %q: it became %s during the copy", ErrState, id, dom.state)
}

// leave removes the domain that now runs on the destination.
func (d *Driver) leave(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, ok := d.domains[id]
	if !ok {
		return
	}
	d.setState(dom, hypervisor.StateStopped, reasonMigrated)
	delete(d.domains, id)
	d.emit(hypervisor.Event{ID: id, State: hypervisor.StateStopped, Reason: reasonUndefined})
}
