package libvirt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	golibvirt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/novacron/novacron/hypervisor"
)

// Disk hotplug: a volume is attached to (or detached from) the running
// domain and its definition in one call, so the next start has the disks the
// guest had; a stopped domain's definition alone changes. Every method
// checks its input before libvirt sees it, and acts on managed domains only.

var _ hypervisor.DiskHotplug = (*Driver)(nil)

// checkTarget refuses a disk name that is not a virtio disk's (vda to vdz).
func checkTarget(target string) error {
	if !targetRE.MatchString(target) {
		return fmt.Errorf("%w: disk target %q is not a virtio disk name (vda to vdz)", hypervisor.ErrInvalidSpec, target)
	}
	return nil
}

// checkHotplugDisk refuses what Start's checkSpec refuses of a volume, and a
// disk without its target: a hotplugged disk has no place in a spec to be
// named by.
func checkHotplugDisk(disk hypervisor.Disk) error {
	if err := checkTarget(disk.Target); err != nil {
		return err
	}
	switch {
	case !filepath.IsAbs(disk.Path) || !xmlText(disk.Path):
		return fmt.Errorf("%w: disk %s: path %q is not an absolute path XML can carry", hypervisor.ErrInvalidSpec, disk.Target, disk.Path)
	case disk.Format != "raw" && disk.Format != "qcow2":
		return fmt.Errorf("%w: disk %s: format %q is neither raw nor qcow2", hypervisor.ErrInvalidSpec, disk.Target, disk.Format)
	}
	return nil
}

// domainDisks reads dom's disks: as it runs (flags 0; the definition when it
// is stopped) or as defined (DOMAIN_XML_INACTIVE).
func domainDisks(dom *golibvirt.Domain, flags golibvirt.DomainXMLFlags) ([]libvirtxml.DomainDisk, error) {
	doc, err := dom.GetXMLDesc(flags)
	if err != nil {
		return nil, fmt.Errorf("read domain xml: %w", err)
	}
	return parseDisks(doc)
}

// parseDisks returns the disks of a domain XML document.
func parseDisks(doc string) ([]libvirtxml.DomainDisk, error) {
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return nil, fmt.Errorf("parse domain xml: %w", err)
	}
	if x.Devices == nil {
		return nil, nil
	}
	return x.Devices.Disks, nil
}

// findDisk returns the disk named target, or nil.
func findDisk(disks []libvirtxml.DomainDisk, target string) *libvirtxml.DomainDisk {
	for i := range disks {
		if disks[i].Target != nil && disks[i].Target.Dev == target {
			return &disks[i]
		}
	}
	return nil
}

// diskFile is the file behind a disk, "" when it is not a file.
func diskFile(disk *libvirtxml.DomainDisk) string {
	if disk.Source == nil || disk.Source.File == nil {
		return ""
	}
	return disk.Source.File.File
}

// AttachDisk adds disk at disk.Target to the running (or paused) domain id
// and to its definition, or to the definition alone when the domain is
// stopped. The <disk> element is the one Start gives a volume (volumeDisk).
// Where the target already holds the same file nothing is done, so a
// repeated call (an agent retrying after a timeout) is harmless; where it
// holds another file the call is refused with ErrInvalidSpec, as it is
// when the file is missing on a local host (unless Config.NoPathChecks).
func (d *Driver) AttachDisk(ctx context.Context, id string, disk hypervisor.Disk) error {
	if err := checkHotplugDisk(disk); err != nil {
		return err
	}
	if d.checkPaths {
		st, err := os.Stat(disk.Path)
		switch {
		case err != nil:
			return fmt.Errorf("%w: disk %s: %w", hypervisor.ErrInvalidSpec, disk.Target, err)
		case !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0:
			return fmt.Errorf("%w: disk %s: %q is not a file", hypervisor.ErrInvalidSpec, disk.Target, disk.Path)
		}
	}
	el, err := xmlOf(volumeDisk(disk, disk.Target))
	if err != nil {
		return err
	}
	return d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, _ int) error {
		flags, err := attachFlags(dom, m, active(st), disk)
		if err != nil || flags == 0 {
			return err
		}
		if err := dom.AttachDeviceFlags(el, flags); err != nil {
			return specError(fmt.Sprintf("attach %s as %s to domain %s (vm %q)", disk.Path, disk.Target, m.ID, m.Name), err)
		}
		d.logger.Info("disk attached", "id", m.ID, "vm", m.Name, "target", disk.Target, "path", disk.Path, "live", flags&golibvirt.DOMAIN_DEVICE_MODIFY_LIVE != 0)
		return nil
	})
}

// attachFlags says where disk is still to be attached: the definition, and
// the running domain when live. Each is looked at on its own, so that an
// attach that reached only one of them (another client's, a live-only one)
// is completed rather than refused by the other.
func attachFlags(dom *golibvirt.Domain, m vmMeta, live bool, disk hypervisor.Disk) (golibvirt.DomainDeviceModifyFlags, error) {
	type place struct {
		flag  golibvirt.DomainDeviceModifyFlags
		xml   golibvirt.DomainXMLFlags
		where string
	}
	places := []place{{golibvirt.DOMAIN_DEVICE_MODIFY_CONFIG, golibvirt.DOMAIN_XML_INACTIVE, "definition"}}
	if live {
		places = append(places, place{golibvirt.DOMAIN_DEVICE_MODIFY_LIVE, 0, "running domain"})
	}
	var flags golibvirt.DomainDeviceModifyFlags
	for _, p := range places {
		disks, err := domainDisks(dom, p.xml)
		if err != nil {
			return 0, fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		switch have := findDisk(disks, disk.Target); {
		case have == nil:
			flags |= p.flag
		case diskFile(have) != disk.Path:
			return 0, fmt.Errorf("%w: domain %s (vm %q) already has %s as %s in its %s, not %s",
				hypervisor.ErrInvalidSpec, m.ID, m.Name, diskFile(have), disk.Target, p.where, disk.Path)
		}
	}
	return flags, nil
}

// DetachDisk asks the guest to release the disk named target and removes it
// from the definition. libvirt waits a few seconds (5 in libvirt 9) for the
// guest; a guest that has not let go by then keeps the disk live, and the
// call returns ErrDetachPending: QEMU and libvirt remove the disk whenever
// the guest lets go, and a repeated call reports (asking again once
// unplugAgain has passed). A target the domain lacks is no error.
//
// It runs on a connection of its own, as Destroy does: on the driver's
// shared connection, calls go one at a time, and every other call would wait
// for the guest too.
func (d *Driver) DetachDisk(ctx context.Context, id, target string) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	return d.onShort(ctx, d.cfg.URI, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, d.cfg.URI, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		st, _, err := dom.GetState()
		if err != nil {
			return fmt.Errorf("read state of domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		// The disk as libvirt has it (its address and alias too), from the
		// running domain first: that is the device QEMU must drop.
		var el *libvirtxml.DomainDisk
		var flags golibvirt.DomainDeviceModifyFlags
		if active(st) {
			disks, err := domainDisks(dom, 0)
			if err != nil {
				return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
			}
			if el = findDisk(disks, target); el != nil {
				flags |= golibvirt.DOMAIN_DEVICE_MODIFY_LIVE
			}
		}
		disks, err := domainDisks(dom, golibvirt.DOMAIN_XML_INACTIVE)
		if err != nil {
			return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		if have := findDisk(disks, target); have != nil {
			flags |= golibvirt.DOMAIN_DEVICE_MODIFY_CONFIG
			if el == nil {
				el = have
			}
		}
		key := m.ID + "/" + target
		switch {
		case flags == 0:
			d.unplugAsked(key, false)
			return nil
		case flags == golibvirt.DOMAIN_DEVICE_MODIFY_LIVE && d.unpluggedSince(key) < unplugAgain:
			// Asked already, and the guest may be letting go right now.
		default:
			doc, err := xmlOf(*el)
			if err != nil {
				return err
			}
			if err := dom.DetachDeviceFlags(doc, flags); err != nil {
				return fmt.Errorf("detach %s from domain %s (vm %q): %w", target, m.ID, m.Name, err)
			}
			d.unplugAsked(key, true)
		}
		// Whether the guest let go shows in the domain as it runs now.
		now, err := domainDisks(dom, 0)
		if err != nil {
			return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		if findDisk(now, target) != nil {
			d.logger.Info("disk detach requested; the guest has not released it yet", "id", m.ID, "vm", m.Name, "target", target)
			return fmt.Errorf("%w: disk %s of domain %s (vm %q)", hypervisor.ErrDetachPending, target, m.ID, m.Name)
		}
		d.unplugAsked(key, false)
		d.logger.Info("disk detached", "id", m.ID, "vm", m.Name, "target", target)
		return nil
	})
}

// unplugAgain is how long DetachDisk leaves an unplug request to the guest
// before it asks again. Asking again at once races with the guest's eject
// in libvirt 9.0 / QEMU 7.2: seen here, a request sent as a just-resumed
// guest let go made libvirt's blockdev-del fail ("in use"), leaving the
// image open in QEMU, and once crashed libvirtd. A guest handles a pending
// ACPI unplug whenever it gets to it, so asking again only helps one that
// lost the request.
const unplugAgain = 30 * time.Second

// unplugAsked records (on) or forgets that an unplug of key ("id/target")
// was just requested.
func (d *Driver) unplugAsked(key string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !on {
		delete(d.unplugs, key)
		return
	}
	if d.unplugs == nil {
		d.unplugs = map[string]time.Time{}
	}
	d.unplugs[key] = time.Now()
}

// unpluggedSince is how long ago this driver asked for key's unplug; a very
// long time when it did not (another agent did, or this one restarted).
func (d *Driver) unpluggedSince(key string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.unplugs[key]
	if !ok {
		return time.Duration(1<<63 - 1)
	}
	return time.Since(at)
}

// ResizeDisk grows the disk named target of the active domain id to bytes;
// QEMU resizes the file and the guest sees the new size at once. A disk
// already that size is left alone (a repeated call is harmless); a smaller
// size is refused with ErrInvalidSpec, since shrinking cuts off what the
// guest wrote at the end. A stopped domain, or one without that disk, is
// refused with ErrState: libvirt resizes only through a running QEMU.
func (d *Driver) ResizeDisk(ctx context.Context, id, target string, bytes int64) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	if bytes <= 0 {
		return fmt.Errorf("%w: disk %s: size %d is not positive", hypervisor.ErrInvalidSpec, target, bytes)
	}
	return d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, _ int) error {
		if !active(st) {
			return fmt.Errorf("%w: cannot resize disk %s of domain %s (vm %q): it is not running", ErrState, target, m.ID, m.Name)
		}
		disks, err := domainDisks(dom, 0)
		if err != nil {
			return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		if findDisk(disks, target) == nil {
			return fmt.Errorf("%w: domain %s (vm %q) has no disk %s", ErrState, m.ID, m.Name, target)
		}
		info, err := dom.GetBlockInfo(target, 0)
		if err != nil {
			return fmt.Errorf("read size of disk %s of domain %s (vm %q): %w", target, m.ID, m.Name, err)
		}
		switch want := uint64(bytes); {
		case want == info.Capacity:
			return nil
		case want < info.Capacity:
			return fmt.Errorf("%w: disk %s of domain %s (vm %q) has %d bytes; shrinking it to %d is refused",
				hypervisor.ErrInvalidSpec, target, m.ID, m.Name, info.Capacity, want)
		}
		if err := dom.BlockResize(target, uint64(bytes), golibvirt.DOMAIN_BLOCK_RESIZE_BYTES); err != nil {
			return specError(fmt.Sprintf("resize disk %s of domain %s (vm %q) to %d bytes", target, m.ID, m.Name, bytes), err)
		}
		d.logger.Info("disk resized", "id", m.ID, "vm", m.Name, "target", target, "from", info.Capacity, "to", bytes)
		return nil
	})
}

// DiskTargets names the domain's disks in the order of its XML: as it runs,
// or as defined when it is stopped.
func (d *Driver) DiskTargets(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, _ golibvirt.DomainState, _ int) error {
		disks, err := domainDisks(dom, 0)
		if err != nil {
			return fmt.Errorf("domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		for _, disk := range disks {
			if disk.Target != nil {
				out = append(out, disk.Target.Dev)
			}
		}
		return nil
	})
	return out, err
}

// xmlOf renders one <disk> element.
func xmlOf(disk libvirtxml.DomainDisk) (string, error) {
	doc, err := disk.Marshal()
	if err != nil {
		return "", fmt.Errorf("render disk xml: %w", err)
	}
	return doc, nil
}
