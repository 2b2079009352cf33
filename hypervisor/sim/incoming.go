package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// prepareIncoming makes room for a domain arriving by migration: it appears
// paused ("migrating") and holds its memory while the copy runs, as on a
// libvirt host.
func (d *Driver) prepareIncoming(spec hypervisor.DomainSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: sim host %q is closed", hypervisor.ErrMigrationUnsupported, d.cfg.Name)
	}
	old, had := d.domains[spec.ID]
	if had && old.active() {
		return fmt.Errorf("%w: domain %q is already %s on sim host %q", ErrState, spec.ID, old.state, d.cfg.Name)
	}
	if free := d.freeMemoryLocked(); spec.MemoryMiB > free {
		return fmt.Errorf("%w: vm %q needs %d MiB, sim host %q has %d MiB free of %d",
			hypervisor.ErrInsufficientResources, spec.Name, spec.MemoryMiB, d.cfg.Name, free, d.cfg.MemoryMiB)
	}
	dom := &domain{spec: spec, state: hypervisor.StateStopped, incoming: true}
	if had {
		dom.replaced = old
	}
	d.domains[spec.ID] = dom
	d.setState(dom, hypervisor.StatePaused, reasonMigrating)
	return nil
}

// finishIncoming makes the arrived domain this host's, with its new
// generation, in the state it had at the switch-over.
func (d *Driver) finishIncoming(id string, gen uint64, st hypervisor.DomainState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, ok := d.domains[id]
	if d.closed || !ok || !dom.incoming || dom.state != hypervisor.StatePaused {
		return fmt.Errorf("the incoming domain is gone from sim host %q (destroyed or host closed)", d.cfg.Name)
	}
	dom.incoming, dom.replaced = false, nil
	dom.spec.Generation = gen
	d.setState(dom, st, reasonMigrated)
	return nil
}

// dropIncoming removes the half-copied domain of a failed migration and puts
// back the stopped definition it replaced.
func (d *Driver) dropIncoming(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, ok := d.domains[id]
	if !ok || !dom.incoming {
		return
	}
	if dom.active() {
		d.setState(dom, hypervisor.StateStopped, reasonIncomingFailed)
	}
	if dom.replaced != nil {
		d.domains[id] = dom.replaced
		return
	}
	delete(d.domains, id)
	d.emit(hypervisor.Event{ID: id, State: hypervisor.StateStopped, Reason: reasonUndefined})
}

// copyMemory simulates the copy: a first pass over all memory and, for a live
// migration of a running guest, a second one over the pages it dirtied
// meanwhile, with the guest paused. It reports progress every MigrateStep and
// stops with ctx's error when ctx ends.
func (d *Driver) copyMemory(ctx context.Context, spec hypervisor.DomainSpec, opts hypervisor.MigrateOptions,
	was hypervisor.DomainState, progress func(hypervisor.MigrateProgress)) (hypervisor.MigrateResult, error) {
	mem := uint64(spec.MemoryMiB) << 20
	rate := uint64(d.cfg.MigrateRateMiBps)
	if opts.BandwidthMiBps > 0 && opts.BandwidthMiBps < rate {
		rate = opts.BandwidthMiBps
	}
	bps := float64(rate << 20)
	seconds := func(bytes uint64) time.Duration { return time.Duration(float64(bytes) / bps * float64(time.Second)) }
	live := opts.Live && was == hypervisor.StateRunning
	var dirtyRate, final uint64
	if live {
		dirtyRate = uint64(float64(mem) * dirtyShare)
		final = min(mem, uint64(float64(dirtyRate)*seconds(mem).Seconds()))
	}
	total := mem + final
	dur := seconds(total)
	report := func(elapsed time.Duration) {
		sent := min(total, uint64(elapsed.Seconds()*bps))
		p := hypervisor.MigrateProgress{Elapsed: elapsed, DataTotal: mem, DataProcessed: sent, DirtyRate: dirtyRate, Iteration: 1}
		if sent < mem {
			p.DataRemaining = mem - sent
		} else {
			p.Iteration, p.DataRemaining = 2, total-sent
		}
		progress(p)
	}
	start := time.Now()
	report(0)
	timer := time.NewTimer(min(d.cfg.MigrateStep, dur))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return hypervisor.MigrateResult{}, ctx.Err()
		case <-timer.C:
		}
		elapsed := time.Since(start)
		if elapsed >= dur {
			break
		}
		report(elapsed)
		timer.Reset(min(d.cfg.MigrateStep, dur-elapsed))
	}
	res := hypervisor.MigrateResult{Total: time.Since(start), DataTransferred: total, DataTotal: mem, Iterations: 1}
	res.Downtime = res.Total // a warm migration, or a paused guest: paused throughout
	if live {
		res.Iterations, res.Downtime = 2, max(seconds(final), time.Microsecond)
	}
	return res, nil
}

// InspectRemote looks domain id up on the sim host at uri in this process:
// hypervisor.ErrNotFound when it has no such domain, an error wrapping
// hypervisor.ErrUnavailable when no such host is up (closed, or never
// started), hypervisor.ErrMigrationUnsupported for a URI no sim host can have.
func (d *Driver) InspectRemote(ctx context.Context, uri, id string) (hypervisor.Domain, error) {
	if !strings.HasPrefix(uri, "sim://") {
		return hypervisor.Domain{}, fmt.Errorf("%w: %q is not a sim host", hypervisor.ErrMigrationUnsupported, uri)
	}
	other := d.registry.get(uri)
	if other == nil {
		return hypervisor.Domain{}, fmt.Errorf("%w: no sim host %q is up in this process", hypervisor.ErrUnavailable, uri)
	}
	dom, err := other.Inspect(ctx, id)
	if errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: sim host %q: %w", hypervisor.ErrUnavailable, uri, err)
	}
	return dom, err
}
