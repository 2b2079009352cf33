// Package sim is an in-process simulated host that implements hypervisor.Driver.
//
// It keeps its domains in memory and changes their state at once when asked, so
// dev mode, the in-process cluster tests and fleet simulations can run many
// "hosts" in one process without libvirt. It enforces the one limit that matters
// for placement, memory: a domain starts only if the host's free memory (capacity
// minus the memory of running and paused domains) holds it. vCPUs may be
// overcommitted, and boot paths are not checked, since no guest really boots.
//
// Crash is a test hook that makes a running domain die behind the agent's back,
// as a guest crash or an operator's `virsh destroy` would.
package sim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// Errors the sim driver returns beside the hypervisor package's own.
var (
	// ErrState: the domain's state does not allow the call (reboot a stopped
	// domain, undefine a running one, ...).
	ErrState = errors.New("domain state does not allow this operation")
	// ErrClosed: the driver was closed.
	ErrClosed = errors.New("sim driver is closed")
)

// Config sizes the simulated host.
type Config struct {
	// Name names the host; it appears in URI and in error messages.
	Name      string
	VCPUs     int
	MemoryMiB int64
	DiskGiB   int64
	// Labels are reported by Labels, with "hypervisor"="sim" added.
	Labels map[string]string
	// Networks are the network names the host reports in its Capacity.
	Networks []string
	// EventBuffer is the capacity of the Events channel; events beyond it are
	// dropped, as the driver contract allows.
	EventBuffer int
	// Now is the clock used for CPU time; tests replace it to make Stats exact.
	Now func() time.Time
	// Registry is where the driver is found by URI for migrations and
	// InspectRemote; nil is the process-wide registry. A test that runs
	// several clusters at once gives each its own (NewRegistry), so hosts of
	// the same name do not reach each other.
	Registry *Registry
	// MigrateRateMiBps is how fast a simulated migration copies memory;
	// MigrateStep is how often it reports progress meanwhile. Both keep
	// migrations quick by default (a 1 GiB guest moves in about 60 ms).
	MigrateRateMiBps int64
	MigrateStep      time.Duration
}

// DefaultConfig is a mid-sized host: 8 vCPUs, 16 GiB of memory, 200 GiB of disk.
func DefaultConfig() Config {
	return Config{
		VCPUs: 8, MemoryMiB: 16384, DiskGiB: 200, EventBuffer: 256, Now: time.Now,
		MigrateRateMiBps: 16384, MigrateStep: 2 * time.Millisecond,
	}
}

// cpuLoad is the share of each vCPU a simulated guest keeps busy.
const cpuLoad = 0.05

// domain is one simulated domain.
type domain struct {
	spec  hypervisor.DomainSpec
	state hypervisor.DomainState
	// reason is the word the hypervisor gives for the last change.
	reason string
	// cpu is the CPU time used before runningSince; it grows only while running.
	cpu          time.Duration
	runningSince time.Time
	// incoming: the domain is arriving by migration (paused, "migrating");
	// replaced is the stopped definition it took the place of, put back if
	// the migration fails.
	incoming bool
	replaced *domain
	// snapshots are the domain's snapshots by name (see snapshots.go); they
	// outlive a redefinition by Start, not an Undefine.
	snapshots map[string]snapshot
}

// Driver is the simulated host. Create it with New.
type Driver struct {
	cfg Config

	mu      sync.Mutex
	domains map[string]*domain
	// activeMemory is the memory of running and paused domains, kept by setState
	// so a start on a host with many domains does not sum them all.
	activeMemory int64
	events       chan hypervisor.Event
	closed       bool
	// migrating holds the IDs of domains this host is migrating away.
	migrating map[string]bool
	registry  *Registry
}

var _ hypervisor.Driver = (*Driver)(nil)

// New returns a simulated host sized by cfg. Zero fields take DefaultConfig's
// values. The host joins cfg.Registry under its URI until Close.
func New(cfg Config) *Driver {
	def := DefaultConfig()
	if cfg.VCPUs <= 0 {
		cfg.VCPUs = def.VCPUs
	}
	if cfg.MemoryMiB <= 0 {
		cfg.MemoryMiB = def.MemoryMiB
	}
	if cfg.DiskGiB <= 0 {
		cfg.DiskGiB = def.DiskGiB
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = def.EventBuffer
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	if cfg.MigrateRateMiBps <= 0 {
		cfg.MigrateRateMiBps = def.MigrateRateMiBps
	}
	if cfg.MigrateStep <= 0 {
		cfg.MigrateStep = def.MigrateStep
	}
	cfg.Labels = maps.Clone(cfg.Labels)
	d := &Driver{
		cfg: cfg, domains: map[string]*domain{}, events: make(chan hypervisor.Event, cfg.EventBuffer),
		migrating: map[string]bool{}, registry: cfg.Registry,
	}
	if d.registry == nil {
		d.registry = processRegistry
	}
	d.registry.add(d)
	return d
}

// Name is "sim".
func (d *Driver) Name() string { return "sim" }

// URI is "sim://" followed by the host's name.
func (d *Driver) URI() string { return "sim://" + d.cfg.Name }

// Labels returns the configured labels plus "hypervisor"="sim".
func (d *Driver) Labels() map[string]string {
	out := maps.Clone(d.cfg.Labels)
	if out == nil {
		out = map[string]string{}
	}
	out["hypervisor"] = "sim"
	return out
}

// Capacity reports the host's size; free memory excludes running and paused
// domains.
func (d *Driver) Capacity(ctx context.Context) (hypervisor.Capacity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(ctx); err != nil {
		return hypervisor.Capacity{}, err
	}
	return hypervisor.Capacity{
		VCPUs: d.cfg.VCPUs, MemoryMiB: d.cfg.MemoryMiB, DiskGiB: d.cfg.DiskGiB,
		FreeMemoryMiB: d.freeMemoryLocked(), Networks: slices.Clone(d.cfg.Networks),
	}, nil
}

// List returns every domain, sorted by ID.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Domain, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	out := make([]hypervisor.Domain, 0, len(d.domains))
	for _, dom := range d.domains {
		out = append(out, dom.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Inspect returns one domain, or hypervisor.ErrNotFound.
func (d *Driver) Inspect(ctx context.Context, id string) (hypervisor.Domain, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return hypervisor.Domain{}, err
	}
	return dom.view(), nil
}

// Stats returns counters for every running or paused domain. CPU time grows
// with the time spent running, times the vCPUs, times a small load factor; the
// I/O counters are derived from it, so they too only grow.
func (d *Driver) Stats(ctx context.Context) (map[string]hypervisor.Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	now := d.cfg.Now()
	out := map[string]hypervisor.Stats{}
	for id, dom := range d.domains {
		if !dom.active() {
			continue
		}
		cpu := dom.cpuTime(now)
		// Simulated guests do a little I/O for every millisecond of CPU.
		ms := uint64(cpu / time.Millisecond)
		out[id] = hypervisor.Stats{
			CPUTime: cpu, MemoryMiB: dom.spec.MemoryMiB,
			DiskRead: ms * 4096, DiskWrite: ms * 1024, NetRxBytes: ms * 512, NetTxBytes: ms * 256,
		}
	}
	return out, nil
}

// Events delivers every state change; Close closes the channel.
func (d *Driver) Events() <-chan hypervisor.Event { return d.events }

// Close closes the Events channel and leaves the registry. Later calls return
// ErrClosed; a second Close is a no-op.
func (d *Driver) Close() error {
	d.registry.remove(d)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.events)
	}
	return nil
}

// check refuses calls after Close or with a finished context. d.mu is held.
func (d *Driver) check(ctx context.Context) error {
	if d.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// lookup returns the domain with the given ID. d.mu is held.
func (d *Driver) lookup(ctx context.Context, id string) (*domain, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	dom, ok := d.domains[id]
	if !ok {
		return nil, notFound{id: id, host: d.cfg.Name}
	}
	return dom, nil
}

// notFound is the sim's "no such domain", formatted only when read: host
// reconcilers ask for domains they have not started yet all the time, and a
// fleet of 1,000 sim hosts spent 7% of its agent's CPU formatting these.
type notFound struct{ id, host string }

func (e notFound) Error() string {
	return fmt.Sprintf("%v: %q on sim host %q", hypervisor.ErrNotFound, e.id, e.host)
}

func (e notFound) Unwrap() error { return hypervisor.ErrNotFound }

// freeMemoryLocked is capacity minus the memory of running and paused domains.
func (d *Driver) freeMemoryLocked() int64 {
	return d.cfg.MemoryMiB - d.activeMemory
}

// setState changes a domain's state and emits the event. d.mu is held.
func (d *Driver) setState(dom *domain, st hypervisor.DomainState, reason string) {
	now := d.cfg.Now()
	if dom.state == hypervisor.StateRunning && st != hypervisor.StateRunning {
		dom.cpu = dom.cpuTime(now)
	}
	if st == hypervisor.StateRunning && dom.state != hypervisor.StateRunning {
		dom.runningSince = now
	}
	was := dom.active()
	dom.state, dom.reason = st, reason
	switch is := dom.active(); {
	case is && !was:
		d.activeMemory += dom.spec.MemoryMiB
	case was && !is:
		d.activeMemory -= dom.spec.MemoryMiB
	}
	d.emit(hypervisor.Event{ID: dom.spec.ID, State: st, Reason: reason})
}

// emit sends an event without blocking; it is dropped when the buffer is full,
// because a stuck consumer must not stop the host. d.mu is held.
func (d *Driver) emit(ev hypervisor.Event) {
	if d.closed {
		return
	}
	select {
	case d.events <- ev:
	default:
	}
}

func (dom *domain) active() bool {
	return dom.state == hypervisor.StateRunning || dom.state == hypervisor.StatePaused
}

func (dom *domain) cpuTime(now time.Time) time.Duration {
	cpu := dom.cpu
	if dom.state == hypervisor.StateRunning {
		cpu += time.Duration(float64(now.Sub(dom.runningSince)) * float64(dom.spec.VCPUs) * cpuLoad)
	}
	return cpu
}

func (dom *domain) view() hypervisor.Domain {
	return hypervisor.Domain{
		ID: dom.spec.ID, Name: dom.spec.Name, Generation: dom.spec.Generation,
		State: dom.state, VCPUs: dom.spec.VCPUs, MemoryMiB: dom.spec.MemoryMiB, Reason: dom.reason,
	}
}

// Foreign returns nothing: a simulated host runs only managed domains.
func (d *Driver) Foreign(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return nil, d.check(ctx)
}
