package libvirt

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	golibvirt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/novacron/novacron/hypervisor"
)

// Snapshots are libvirt's internal snapshots: they live inside the domain's
// qcow2 disks, with libvirt's metadata (the snapshot's name, state and
// domain definition) beside the domain's. Of an active domain libvirt takes
// a full checkpoint (libvirt 9.0: QEMU's savevm, the guest paused for the
// whole of it): the memory state and every writable disk. Read-only disks
// (a cloud-init seed) are left out: libvirt marks them snapshot='no' itself.
// Of a stopped domain it snapshots the disks alone (qemu-img snapshot -c).
//
// libvirt ties the metadata to the domain's name and UUID: it refuses to
// migrate or rename a domain that has snapshots, and to undefine one
// without DOMAIN_UNDEFINE_SNAPSHOTS_METADATA (which undefine passes). So a
// VM renamed while it has snapshots keeps its libvirt name (see
// prepareDefine) until they are deleted.
//
// Create, revert and delete run on a connection of their own, as Destroy
// does: a checkpoint writes the guest's memory out and a revert restarts
// QEMU (seconds), and on the driver's shared connection every other call
// would wait for them.

var _ hypervisor.Snapshotter = (*Driver)(nil)

// ErrNoSnapshot: the domain has no snapshot of that name. It does not wrap
// hypervisor.ErrNotFound, which would say the domain itself is missing.
var ErrNoSnapshot = errors.New("no such snapshot")

// maxSnapshotName bounds a snapshot's name.
const maxSnapshotName = 63

// snapshotNameRE is the charset a snapshot name may use. libvirt takes
// almost any name, but the name travels into a file name (libvirt keeps
// each snapshot's metadata in NAME.xml) and, in libvirt 9.0, onto QEMU's
// human monitor command line (savevm NAME), where spaces and quotes are
// parsed; a name that is safe in all three places needs no escaping.
var snapshotNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// checkSnapshotName refuses a name outside snapshotNameRE or too long.
func checkSnapshotName(name string) error {
	if len(name) > maxSnapshotName || !snapshotNameRE.MatchString(name) {
		return fmt.Errorf("%w: snapshot name %q: 1 to %d letters, digits, '-', '_' or '.', not starting with '.' or '-'",
			hypervisor.ErrInvalidSpec, name, maxSnapshotName)
	}
	return nil
}

// CreateSnapshot takes snapshot name of domain id: a full checkpoint of a
// running or paused domain (memory and writable disks; the guest is paused
// meanwhile, about 0.3 s for a 96 MiB guest under TCG), the disks alone of
// a stopped one. A name the domain has already is a no-op. A writable disk
// that is not qcow2 cannot hold an internal snapshot: the call is refused
// with ErrInvalidSpec before libvirt sees it.
func (d *Driver) CreateSnapshot(ctx context.Context, id, name string) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	// checkSnapshotName leaves nothing to escape.
	doc := "<domainsnapshot><name>" + name + "</name></domainsnapshot>"
	return d.onShort(ctx, d.cfg.URI, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, d.cfg.URI, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		ok, err := hasSnapshot(dom, name)
		if err != nil {
			return fmt.Errorf("look up snapshot %q of domain %s (vm %q): %w", name, m.ID, m.Name, err)
		}
		if ok {
			return nil
		}
		st, _, err := dom.GetState()
		if err != nil {
			return fmt.Errorf("read state of domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		if err := snapshottable(dom, m); err != nil {
			return err
		}
		start := time.Now()
		snap, err := dom.CreateSnapshotXML(doc, 0)
		if err != nil {
			// Another client may have taken the same name meanwhile.
			if ok, _ := hasSnapshot(dom, name); ok {
				return nil
			}
			return specError(fmt.Sprintf("snapshot domain %s (vm %q) as %q", m.ID, m.Name, name), err)
		}
		snap.Free()
		d.logger.Info("snapshot created", "id", m.ID, "vm", m.Name, "snapshot", name,
			"memory", active(st), "took", time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// snapshottable refuses a domain with a writable disk an internal snapshot
// cannot live in (anything but a qcow2 file), naming the disk: libvirt's own
// refusal names only the storage type.
func snapshottable(dom *golibvirt.Domain, m vmMeta) error {
	disks, err := domainDisks(dom, 0)
	if err != nil {
		return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
	}
	for i := range disks {
		disk := &disks[i]
		if disk.ReadOnly != nil || disk.Device == "cdrom" || disk.Device == "floppy" || disk.Source == nil {
			continue
		}
		format := ""
		if disk.Driver != nil {
			format = disk.Driver.Type
		}
		if format != "qcow2" || diskFile(disk) == "" {
			target := "?"
			if disk.Target != nil {
				target = disk.Target.Dev
			}
			return fmt.Errorf("%w: cannot snapshot domain %s (vm %q): its writable disk %s (%s) is %q, and internal snapshots need qcow2 files",
				hypervisor.ErrInvalidSpec, m.ID, m.Name, target, diskFile(disk), format)
		}
	}
	return nil
}

// hasSnapshot reports whether dom has snapshot name.
func hasSnapshot(dom *golibvirt.Domain, name string) (bool, error) {
	snap, err := dom.SnapshotLookupByName(name, 0)
	switch libvirtCode(err) {
	case golibvirt.ERR_OK:
		snap.Free()
		return true, nil
	case golibvirt.ERR_NO_DOMAIN_SNAPSHOT:
		return false, nil
	}
	return false, err
}

// revertPlan is how RevertSnapshot gets to what it was asked for: libvirt
// can only revert to the snapshot's own state (running, paused, or stopped
// for a disk-only one), or to running or paused; so a stopped outcome of a
// checkpoint is reached by destroying it, and a restart from its disks by a
// reset. The guest never runs from the saved memory when it is not to.
type revertPlan struct {
	flags golibvirt.DomainSnapshotRevertFlags
	// destroy: stop the domain after the revert (it is paused).
	destroy bool
	// reset: reset the paused domain and resume it, so it boots from the
	// disks as they were.
	reset bool
}

// planRevert chooses the revert for a snapshot with or without saved
// memory (taken active), whether that memory is to be used, and whether
// the domain is to run afterwards.
func planRevert(saved, memory, running bool) revertPlan {
	switch {
	case !running && saved:
		return revertPlan{flags: golibvirt.DOMAIN_SNAPSHOT_REVERT_PAUSED, destroy: true}
	case !running:
		// A disk-only snapshot: libvirt stops a domain that runs.
		return revertPlan{}
	case saved && !memory:
		return revertPlan{flags: golibvirt.DOMAIN_SNAPSHOT_REVERT_PAUSED, reset: true}
	}
	return revertPlan{flags: golibvirt.DOMAIN_SNAPSHOT_REVERT_RUNNING}
}

// savedMemory reports whether snap holds a memory state: it was taken of an
// active domain (libvirt's states but shutoff and disk-snapshot).
func savedMemory(snap *golibvirt.DomainSnapshot) (bool, error) {
	doc, err := snap.GetXMLDesc(0)
	if err != nil {
		return false, fmt.Errorf("read snapshot xml: %w", err)
	}
	var x libvirtxml.DomainSnapshot
	if err := x.Unmarshal(doc); err != nil {
		return false, fmt.Errorf("parse snapshot xml: %w", err)
	}
	switch x.State {
	case "", "nostate", "shutoff", "disk-snapshot":
		return false, nil
	}
	return true, nil
}

// RevertSnapshot returns domain id to snapshot name (see revertPlan):
//
//   - running and memory, of a checkpoint: the guest goes on from the
//     snapshot's instant (libvirt 9.0 restarts QEMU to load it: 2 to 4 s
//     for a 96 MiB guest under TCG);
//   - running without memory, of a checkpoint: reverted paused, reset and
//     resumed, so the guest boots from its disks as they were;
//   - running, of a disk-only snapshot: the domain boots from its disks;
//   - not running: the domain ends stopped (a checkpoint is reverted paused
//     and destroyed), its disks as the snapshot has them, and reads stopped.
//
// libvirt puts back the definition the snapshot saved; the domain's
// NovaCron metadata (name, generation) is set back to what it was before
// the revert, since it is the VM's identity, not part of its state.
// A missing snapshot is ErrNoSnapshot. An error after libvirt reverted says
// so and what failed next.
func (d *Driver) RevertSnapshot(ctx context.Context, id, name string, memory, running bool) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	return d.onShort(ctx, d.cfg.URI, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, d.cfg.URI, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		what := fmt.Sprintf("domain %s (vm %q) to snapshot %q", m.ID, m.Name, name)
		snap, err := dom.SnapshotLookupByName(name, 0)
		switch libvirtCode(err) {
		case golibvirt.ERR_OK:
		case golibvirt.ERR_NO_DOMAIN_SNAPSHOT:
			return fmt.Errorf("%w: cannot revert domain %s (vm %q): it has no snapshot %q", ErrNoSnapshot, m.ID, m.Name, name)
		default:
			return fmt.Errorf("look up snapshot %q of domain %s (vm %q): %w", name, m.ID, m.Name, err)
		}
		defer snap.Free()
		saved, err := savedMemory(snap)
		if err != nil {
			return fmt.Errorf("revert %s: %w", what, err)
		}
		plan := planRevert(saved, memory, running)
		if running {
			d.setRequested(m.ID, false)
		}
		start := time.Now()
		if err := d.revert(snap, plan.flags, what); err != nil {
			return fmt.Errorf("revert %s: %w", what, err)
		}
		if running {
			d.restoreMeta(dom, m)
		} else {
			// Stopped on request: it reads stopped, not crashed.
			d.markStopRequested(dom, m)
		}
		switch {
		case plan.destroy:
			if err := dom.Destroy(); err != nil && libvirtCode(err) != golibvirt.ERR_OPERATION_INVALID {
				return fmt.Errorf("reverted %s (paused), but could not stop it: %w", what, err)
			}
		case plan.reset:
			if err := dom.Reset(0); err != nil {
				return fmt.Errorf("reverted %s (paused), but could not reset it to boot without the saved memory: %w", what, err)
			}
			if err := dom.Resume(); err != nil {
				return fmt.Errorf("reverted %s and reset it, but could not resume it (it is paused): %w", what, err)
			}
		case running:
			// QEMU boots a domain reverted with REVERT_RUNNING to a
			// disk-only snapshot; libvirt's test driver leaves it off.
			if st, _, err := dom.GetState(); err == nil && !active(st) {
				if err := dom.Create(); err != nil {
					return fmt.Errorf("reverted %s, but could not start it: %w", what, err)
				}
			}
		}
		d.logger.Info("snapshot reverted", "id", m.ID, "vm", m.Name, "snapshot", name, "saved_memory", saved,
			"memory", memory, "running", running, "took", time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// revert asks libvirt for the revert, with FORCE when libvirt calls it
// risky (a running domain whose definition differs from the snapshot's in
// a way the guest would notice): the guest's state is being replaced
// anyway, which is what the caller asked for.
func (d *Driver) revert(snap *golibvirt.DomainSnapshot, flags golibvirt.DomainSnapshotRevertFlags, what string) error {
	err := snap.RevertToSnapshot(flags)
	if libvirtCode(err) == golibvirt.ERR_SNAPSHOT_REVERT_RISKY {
		d.logger.Info("libvirt calls the revert risky; forcing it", "revert", what, "error", err)
		err = snap.RevertToSnapshot(flags | golibvirt.DOMAIN_SNAPSHOT_REVERT_FORCE)
	}
	return err
}

// restoreMeta writes m (not stopped on request) into the domain's running
// and persistent definitions, which a revert replaced with the snapshot's.
// Best effort, as markStopRequested: the next Start redefines it anyway.
func (d *Driver) restoreMeta(dom *golibvirt.Domain, m vmMeta) {
	m.StopRequested = false
	el, err := metadataElement(m)
	if err == nil {
		flags := golibvirt.DOMAIN_AFFECT_CONFIG
		if ok, _ := dom.IsActive(); ok {
			flags |= golibvirt.DOMAIN_AFFECT_LIVE
		}
		err = dom.SetMetadata(golibvirt.DOMAIN_METADATA_ELEMENT, string(el), metadataPrefix, MetadataNamespace, flags)
	}
	if err != nil {
		d.logger.Warn("restoring domain metadata after a snapshot revert", "id", m.ID, "error", err)
	}
}

// DeleteSnapshot removes snapshot name of domain id, from libvirt's
// metadata and from every disk holding it (a running guest is not paused
// for it). A name the domain lacks is no error.
func (d *Driver) DeleteSnapshot(ctx context.Context, id, name string) error {
	if err := checkSnapshotName(name); err != nil {
		return err
	}
	return d.onShort(ctx, d.cfg.URI, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, d.cfg.URI, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		snap, err := dom.SnapshotLookupByName(name, 0)
		switch libvirtCode(err) {
		case golibvirt.ERR_OK:
		case golibvirt.ERR_NO_DOMAIN_SNAPSHOT:
			return nil
		default:
			return fmt.Errorf("look up snapshot %q of domain %s (vm %q): %w", name, m.ID, m.Name, err)
		}
		defer snap.Free()
		err = snap.Delete(0)
		switch libvirtCode(err) {
		case golibvirt.ERR_OK:
		case golibvirt.ERR_NO_DOMAIN_SNAPSHOT:
			return nil
		default:
			return fmt.Errorf("delete snapshot %q of domain %s (vm %q): %w", name, m.ID, m.Name, err)
		}
		d.logger.Info("snapshot deleted", "id", m.ID, "vm", m.Name, "snapshot", name)
		return nil
	})
}

// Snapshots names domain id's snapshots, sorted.
func (d *Driver) Snapshots(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, _ golibvirt.DomainState, _ int) error {
		snaps, err := dom.ListAllSnapshots(0)
		if err != nil {
			return fmt.Errorf("list snapshots of domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		for i := range snaps {
			if name, err := snaps[i].GetName(); err == nil {
				out = append(out, name)
			}
			snaps[i].Free()
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// keepNameForSnapshots says under which name a stopped domain now named
// have is defined again when its VM is named want: have, while it has
// snapshots (libvirt keeps their metadata under the domain's name, and
// refuses virDomainRename for that reason; an undefine would drop them and
// leave their data in the disks, out of reach), else want.
func keepNameForSnapshots(dom *golibvirt.Domain, have, want string) (string, error) {
	if have == want {
		return want, nil
	}
	n, err := dom.SnapshotNum(0)
	if err != nil {
		return "", fmt.Errorf("count snapshots of domain %s: %w", have, err)
	}
	if n > 0 {
		return have, nil
	}
	return want, nil
}

// withName renames the domain in definition doc.
func withName(doc, name string) (string, error) {
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return "", fmt.Errorf("parse domain xml: %w", err)
	}
	x.Name = name
	out, err := x.Marshal()
	if err != nil {
		return "", fmt.Errorf("render domain xml: %w", err)
	}
	return out, nil
}
