package sim

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// Start defines the domain from spec, replacing a stopped or crashed definition
// (its snapshots kept), and starts it. A running or paused domain is left as it is. It refuses with
// hypervisor.ErrInsufficientResources when free memory cannot hold the spec, and
// with hypervisor.ErrInvalidSpec when the spec has no ID or no size. Boot paths
// are not checked: no guest really boots.
func (d *Driver) Start(ctx context.Context, spec hypervisor.DomainSpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(ctx); err != nil {
		return err
	}
	if spec.ID == "" || spec.VCPUs <= 0 || spec.MemoryMiB <= 0 {
		return fmt.Errorf("%w: id, vcpus and memory are required (id %q, %d vCPUs, %d MiB)",
			hypervisor.ErrInvalidSpec, spec.ID, spec.VCPUs, spec.MemoryMiB)
	}
	old, had := d.domains[spec.ID]
	if had && old.active() {
		return nil
	}
	if free := d.freeMemoryLocked(); spec.MemoryMiB > free {
		return fmt.Errorf("%w: vm %q needs %d MiB, sim host %q has %d MiB free of %d",
			hypervisor.ErrInsufficientResources, spec.Name, spec.MemoryMiB, d.cfg.Name, free, d.cfg.MemoryMiB)
	}
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Boot != nil {
		b := *spec.Boot
		spec.Boot = &b
	}
	dom := &domain{spec: spec, state: hypervisor.StateStopped}
	if had {
		dom.snapshots = old.snapshots
	}
	d.domains[spec.ID] = dom
	d.setState(dom, hypervisor.StateRunning, "started")
	return nil
}

// Shutdown powers the domain off. Simulated guests always obey at once, so the
// timeout is never reached. A stopped domain is left as it is.
func (d *Driver) Shutdown(ctx context.Context, id string, _ time.Duration) error {
	return d.stop(ctx, id, "shutdown")
}

// Destroy stops the domain at once. A stopped domain is left as it is.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	return d.stop(ctx, id, "destroyed")
}

func (d *Driver) stop(ctx context.Context, id, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return err
	}
	if dom.state != hypervisor.StateStopped {
		d.setState(dom, hypervisor.StateStopped, reason)
	}
	return nil
}

// Reboot restarts a running guest; any other state is refused with ErrState.
func (d *Driver) Reboot(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return err
	}
	if dom.state != hypervisor.StateRunning {
		return fmt.Errorf("%w: cannot reboot domain %q: it is %s, not running", ErrState, id, dom.state)
	}
	// The guest stays running; the event tells the agent it went through a reboot.
	d.setState(dom, hypervisor.StateRunning, "rebooted")
	return nil
}

// Suspend pauses a running domain; a paused one is left as it is.
func (d *Driver) Suspend(ctx context.Context, id string) error {
	return d.transition(ctx, id, hypervisor.StateRunning, hypervisor.StatePaused, "suspended")
}

// Resume continues a paused domain; a running one is left as it is.
func (d *Driver) Resume(ctx context.Context, id string) error {
	return d.transition(ctx, id, hypervisor.StatePaused, hypervisor.StateRunning, "resumed")
}

// transition moves a domain from one state to another, treats "already there" as
// done, and refuses every other state.
func (d *Driver) transition(ctx context.Context, id string, from, to hypervisor.DomainState, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return err
	}
	switch dom.state {
	case to:
		return nil
	case from:
		d.setState(dom, to, reason)
		return nil
	}
	return fmt.Errorf("%w: domain %q is %s, not %s", ErrState, id, dom.state, from)
}

// Undefine removes a stopped or crashed domain; a running or paused one is
// refused with ErrState.
func (d *Driver) Undefine(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return err
	}
	if dom.active() {
		return fmt.Errorf("%w: cannot undefine domain %q: it is %s; stop it first", ErrState, id, dom.state)
	}
	delete(d.domains, id)
	d.emit(hypervisor.Event{ID: id, State: hypervisor.StateStopped, Reason: "undefined"})
	return nil
}

// Crash is a test hook: the running domain id dies without being asked to, as a
// guest crash or a `virsh destroy` behind the agent's back would make it. Its
// state becomes crashed with reason "crashed", and an event is emitted.
func (d *Driver) Crash(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(context.Background(), id)
	if err != nil {
		return err
	}
	if dom.state != hypervisor.StateRunning {
		return fmt.Errorf("%w: cannot crash domain %q: it is %s, not running", ErrState, id, dom.state)
	}
	d.setState(dom, hypervisor.StateCrashed, "crashed")
	return nil
}
