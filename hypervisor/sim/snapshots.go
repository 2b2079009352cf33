package sim

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/novacron/novacron/hypervisor"
)

// Snapshots: a simulated domain has no disks, so its snapshots are records
// of a name and of the state the domain was in. A revert changes the
// domain's state as a libvirt host's revert would, with the same event
// reasons, and the rules are the libvirt driver's: the same names are
// refused, and a domain with snapshots does not migrate. So dev clusters and
// the in-process tests run the snapshot flow as production does.

var _ hypervisor.Snapshotter = (*Driver)(nil)

// ErrNoSnapshot: the domain has no snapshot of that name. It does not wrap
// hypervisor.ErrNotFound, which would say the domain itself is missing.
var ErrNoSnapshot = errors.New("no such snapshot")

// snapshot is one snapshot of a simulated domain.
type snapshot struct {
	// memory: taken of a running or paused domain, whose memory state a
	// libvirt checkpoint saves.
	memory bool
}

// maxSnapshotName and snapshotNameRE are the libvirt driver's rule for
// snapshot names (see its checkSnapshotName).
const maxSnapshotName = 63

var snapshotNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

func checkSnapshotName(name string) error {
	if len(name) > maxSnapshotName || !snapshotNameRE.MatchString(name) {
		return fmt.Errorf("%w: snapshot name %q: 1 to %d letters, digits, '-', '_' or '.', not starting with '.' or '-'",
			hypervisor.ErrInvalidSpec, name, maxSnapshotName)
	}
	return nil
}

// snapshotDomain returns domain id for a snapshot call: not one arriving or
// leaving by migration (libvirt's domain job would refuse it). d.mu is held.
func (d *Driver) snapshotDomain(ctx context.Context, id string) (*domain, error) {
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if dom.incoming || d.migrating[id] {
		return nil, fmt.Errorf("%w: domain %q is migrating", ErrState, id)
	}
	return dom, nil
}

// CreateSnapshot records snapshot name of domain id, with its memory when
// the domain is running or paused. A name the domain has already is a
// no-op. No event: the guest's pause for a checkpoint is not simulated.
func (d *Driver) CreateSnapshot(ctx context.Context, id, name string) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.snapshotDomain(ctx, id)
	if err != nil {
		return err
	}
	if _, ok := dom.snapshots[name]; ok {
		return nil
	}
	if dom.snapshots == nil {
		dom.snapshots = map[string]snapshot{}
	}
	dom.snapshots[name] = snapshot{memory: dom.active()}
	return nil
}

// RevertSnapshot sets domain id to snapshot name: running afterwards when
// asked ("from snapshot" when it goes on from the snapshot's memory,
// "booted" when it restarts from its disks), else stopped ("from snapshot";
// a crashed domain too, as the libvirt driver records the stop as
// requested). Starting a stopped domain needs its memory free
// (hypervisor.ErrInsufficientResources). A missing name is ErrNoSnapshot.
func (d *Driver) RevertSnapshot(ctx context.Context, id, name string, memory, running bool) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.snapshotDomain(ctx, id)
	if err != nil {
		return err
	}
	snap, ok := dom.snapshots[name]
	if !ok {
		return fmt.Errorf("%w: cannot revert domain %q: it has no snapshot %q", ErrNoSnapshot, id, name)
	}
	if !running {
		if dom.state != hypervisor.StateStopped {
			d.setState(dom, hypervisor.StateStopped, "from snapshot")
		}
		return nil
	}
	if free := d.freeMemoryLocked(); !dom.active() && dom.spec.MemoryMiB > free {
		return fmt.Errorf("%w: vm %q needs %d MiB, sim host %q has %d MiB free of %d",
			hypervisor.ErrInsufficientResources, dom.spec.Name, dom.spec.MemoryMiB, d.cfg.Name, free, d.cfg.MemoryMiB)
	}
	reason := "booted"
	if snap.memory && memory {
		reason = "from snapshot"
	}
	// A running domain emits the event too: its guest restarted.
	d.setState(dom, hypervisor.StateRunning, reason)
	return nil
}

// DeleteSnapshot forgets snapshot name of domain id; a name the domain
// lacks is no error.
func (d *Driver) DeleteSnapshot(ctx context.Context, id, name string) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.snapshotDomain(ctx, id)
	if err != nil {
		return err
	}
	delete(dom.snapshots, name)
	return nil
}

// Snapshots names domain id's snapshots, sorted.
func (d *Driver) Snapshots(ctx context.Context, id string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(dom.snapshots))
	for name := range dom.snapshots {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}
