package libvirt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// Start defines the domain from spec and starts it. A running or paused
// domain is left as it is (whatever its generation: that is the reconciler's
// call). A stopped definition is replaced, so a new generation, size or boot
// source takes effect; a stopped domain whose VM was renamed is undefined and
// defined again under its new name, unless it has snapshots (it keeps its
// libvirt name then: see keepNameForSnapshots).
//
// Refusals wrap hypervisor.ErrInvalidSpec (bad spec, missing boot file or
// bridge on a local host unless Config.NoPathChecks, unknown or inactive network, a foreign domain holding
// the UUID or the name, XML libvirt rejects) or hypervisor.ErrInsufficientResources
// (more memory than the host has, or than it has available now). Other libvirt
// failures come back wrapping golibvirt.Error with libvirt's message.
func (d *Driver) Start(ctx context.Context, spec hypervisor.DomainSpec) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	if d.checkPaths {
		if err := checkHostPaths(spec); err != nil {
			return err
		}
	}
	p := xmlParams{VirtType: d.virtType, Arch: d.arch, ConsoleLogDir: d.cfg.ConsoleLogDir}
	doc, err := domainXML(spec, p)
	if err != nil {
		return err
	}
	id, name := strings.ToLower(spec.ID), domainName(spec.ID, spec.Name)
	return d.call(ctx, func(c *golibvirt.Connect) error {
		if err := d.checkHostResources(c, spec); err != nil {
			return err
		}
		running, defineAs, err := d.prepareDefine(c, id, name)
		if err != nil || running {
			return err
		}
		def := doc
		if defineAs != name {
			if def, err = withName(doc, defineAs); err != nil {
				return err
			}
		}
		dom, err := c.DomainDefineXML(def)
		if err != nil {
			return specError(fmt.Sprintf("define domain %s for vm %q", defineAs, spec.Name), err)
		}
		defer dom.Free()
		d.setRequested(id, false)
		d.setKnown(id, true)
		if err := dom.Create(); err != nil {
			return specError(fmt.Sprintf("start domain %s for vm %q", defineAs, spec.Name), err)
		}
		d.logger.Info("domain started", "domain", defineAs, "vm", spec.Name, "id", id, "generation", spec.Generation)
		return nil
	})
}

// prepareDefine clears the way for defining domain id under name: it reports
// running=true when the domain is already active (Start has nothing to do),
// destroys a crashed leftover, and undefines a stopped definition that holds
// another name, unless it has snapshots: then it is defined again under the
// name it has (defineAs; see keepNameForSnapshots). It refuses foreign
// domains holding the UUID or the name.
func (d *Driver) prepareDefine(c *golibvirt.Connect, id, name string) (running bool, defineAs string, err error) {
	if other, err := c.LookupDomainByName(name); err == nil {
		uuid, _ := other.GetUUIDString()
		other.Free()
		if !strings.EqualFold(uuid, id) {
			return false, "", fmt.Errorf("%w: domain name %q is taken by domain %s", hypervisor.ErrInvalidSpec, name, uuid)
		}
	}
	dom, err := c.LookupDomainByUUIDString(id)
	if libvirtCode(err) == golibvirt.ERR_NO_DOMAIN {
		return false, name, nil
	}
	if err != nil {
		return false, "", fmt.Errorf("look up domain %s: %w", id, err)
	}
	defer dom.Free()
	_, managed, err := d.readMeta(dom)
	if err != nil {
		return false, "", err
	}
	have, _ := dom.GetName()
	if !managed {
		return false, "", fmt.Errorf("%w: domain %q with uuid %s exists and is not managed by NovaCron", hypervisor.ErrInvalidSpec, have, id)
	}
	st, _, err := dom.GetState()
	if err != nil {
		return false, "", fmt.Errorf("read state of domain %s: %w", have, err)
	}
	switch {
	case st == golibvirt.DOMAIN_CRASHED:
		if err := dom.Destroy(); err != nil {
			return false, "", fmt.Errorf("destroy crashed domain %s before restarting it: %w", have, err)
		}
	case active(st):
		return true, have, nil
	}
	defineAs, err = keepNameForSnapshots(dom, have, name)
	if err != nil {
		return false, "", err
	}
	if defineAs == have && have != name {
		d.logger.Info("domain has snapshots; it keeps its name until they are deleted", "domain", have, "wanted", name, "id", id)
	}
	if defineAs != have {
		// undefine passes DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, though
		// there are none to drop here.
		if err := undefine(dom); err != nil {
			return false, "", fmt.Errorf("undefine domain %s to rename it %s: %w", have, name, err)
		}
	}
	return false, defineAs, nil
}

// checkHostResources refuses specs the host cannot hold: NICs on networks it
// lacks, more memory than it has, or more than is available now (free plus
// buffers and page cache) where libvirt reports that.
func (d *Driver) checkHostResources(c *golibvirt.Connect, spec hypervisor.DomainSpec) error {
	for _, nic := range spec.NICs {
		if nic.Network == "" {
			continue
		}
		net, err := c.LookupNetworkByName(nic.Network)
		if libvirtCode(err) == golibvirt.ERR_NO_NETWORK {
			return fmt.Errorf("%w: vm %q: network %q does not exist on %s", hypervisor.ErrInvalidSpec, spec.Name, nic.Network, d.where())
		}
		if err != nil {
			return fmt.Errorf("look up network %q: %w", nic.Network, err)
		}
		up, err := net.IsActive()
		net.Free()
		if err == nil && !up {
			return fmt.Errorf("%w: vm %q: network %q is not active on %s", hypervisor.ErrInvalidSpec, spec.Name, nic.Network, d.where())
		}
	}
	info, err := c.GetNodeInfo()
	if err != nil {
		return fmt.Errorf("read node info: %w", err)
	}
	if total := int64(info.Memory / 1024); spec.MemoryMiB > total {
		return fmt.Errorf("%w: vm %q needs %d MiB, %s has %d MiB in all",
			hypervisor.ErrInsufficientResources, spec.Name, spec.MemoryMiB, d.where(), total)
	}
	if ms, err := c.GetMemoryStats(golibvirt.NODE_MEMORY_STATS_ALL_CELLS, 0); err == nil && ms.FreeSet {
		if avail := int64((ms.Free + ms.Buffers + ms.Cached) / 1024); spec.MemoryMiB > avail {
			return fmt.Errorf("%w: vm %q needs %d MiB, %s has %d MiB available",
				hypervisor.ErrInsufficientResources, spec.Name, spec.MemoryMiB, d.where(), avail)
		}
	}
	return nil
}

// checkHostPaths checks, on a local host, that boot files and volumes exist
// and bridges are bridges, so the mistake comes back as ErrInvalidSpec and not as a QEMU error.
func checkHostPaths(spec hypervisor.DomainSpec) error {
	type file struct{ what, path string }
	var files []file
	if b := spec.Boot; b != nil {
		files = append(files, file{"kernel", b.Kernel}, file{"initrd", b.Initrd}, file{"disk", b.Disk})
	}
	for i, d := range spec.Disks {
		files = append(files, file{fmt.Sprintf("volume %d", i), d.Path})
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if !filepath.IsAbs(f.path) {
			return fmt.Errorf("%w: vm %q: %s path %q is not absolute", hypervisor.ErrInvalidSpec, spec.Name, f.what, f.path)
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return fmt.Errorf("%w: vm %q: %s: %v", hypervisor.ErrInvalidSpec, spec.Name, f.what, err)
		}
		if !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0 {
			return fmt.Errorf("%w: vm %q: %s %q is not a file", hypervisor.ErrInvalidSpec, spec.Name, f.what, f.path)
		}
	}
	for _, nic := range spec.NICs {
		if nic.Bridge == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", nic.Bridge, "bridge")); err != nil {
			return fmt.Errorf("%w: vm %q: %q is not a bridge on this host", hypervisor.ErrInvalidSpec, spec.Name, nic.Bridge)
		}
	}
	return nil
}

// specError wraps a libvirt failure, adding ErrInvalidSpec when libvirt says
// the definition itself is at fault.
func specError(op string, err error) error {
	switch libvirtCode(err) {
	case golibvirt.ERR_XML_ERROR, golibvirt.ERR_XML_DETAIL, golibvirt.ERR_CONFIG_UNSUPPORTED,
		golibvirt.ERR_NO_NETWORK, golibvirt.ERR_INVALID_ARG:
		return fmt.Errorf("%w: %s: %w", hypervisor.ErrInvalidSpec, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// undefine removes a definition with everything libvirt keeps beside it,
// dropping the flags a driver does not know.
func undefine(dom *golibvirt.Domain) error {
	err := dom.UndefineFlags(golibvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | golibvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
		golibvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | golibvirt.DOMAIN_UNDEFINE_NVRAM)
	switch libvirtCode(err) {
	case golibvirt.ERR_INVALID_ARG, golibvirt.ERR_NO_SUPPORT:
		err = dom.UndefineFlags(golibvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | golibvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
	}
	switch libvirtCode(err) {
	case golibvirt.ERR_INVALID_ARG, golibvirt.ERR_NO_SUPPORT:
		err = dom.Undefine()
	}
	return err
}

// Undefine removes a stopped or crashed domain's definition; an active one is
// refused with ErrState (destroy it first). libvirt's metadata of its
// snapshots goes with it (libvirt refuses the undefine otherwise); their data
// stays in the disk files, which go with the VM's volumes.
func (d *Driver) Undefine(ctx context.Context, id string) error {
	return d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, _ int) error {
		if active(st) {
			return fmt.Errorf("%w: cannot undefine domain %s (vm %q): it is active; destroy it first", ErrState, m.ID, m.Name)
		}
		if err := undefine(dom); err != nil {
			return fmt.Errorf("undefine domain %s: %w", m.ID, err)
		}
		// known is cleared by the undefined event (or the resync), which must
		// still see the ID as managed to report it.
		d.setRequested(m.ID, false)
		return nil
	})
}

// Suspend pauses a running domain; a paused one is left as it is.
func (d *Driver) Suspend(ctx context.Context, id string) error {
	return d.transition(ctx, id, "suspend", golibvirt.DOMAIN_RUNNING, golibvirt.DOMAIN_PAUSED, (*golibvirt.Domain).Suspend)
}

// Resume continues a paused domain; a running one is left as it is.
func (d *Driver) Resume(ctx context.Context, id string) error {
	return d.transition(ctx, id, "resume", golibvirt.DOMAIN_PAUSED, golibvirt.DOMAIN_RUNNING, (*golibvirt.Domain).Resume)
}

func (d *Driver) transition(ctx context.Context, id, op string, from, to golibvirt.DomainState, fn func(*golibvirt.Domain) error) error {
	return d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, reason int) error {
		switch st {
		case to:
			return nil
		case from:
			if err := fn(dom); err != nil {
				return fmt.Errorf("%s domain %s: %w", op, m.ID, err)
			}
			return nil
		}
		have, _ := classify(st, reason, false)
		return fmt.Errorf("%w: cannot %s domain %s (vm %q): it is %s", ErrState, op, m.ID, m.Name, have)
	})
}

// stateOf reads the libvirt state of a managed domain.
func (d *Driver) stateOf(ctx context.Context, id string) (golibvirt.DomainState, error) {
	var st golibvirt.DomainState
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		dom, _, err := d.lookup(c, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		st, _, err = dom.GetState()
		return err
	})
	return st, err
}

// pollUntil checks cond every ShutdownPoll until it holds, the deadline passes
// (false, nil) or ctx ends.
func (d *Driver) pollUntil(ctx context.Context, deadline time.Time, cond func() (bool, error)) (bool, error) {
	for {
		ok, err := cond()
		if err != nil || ok {
			return ok, err
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(min(d.cfg.ShutdownPoll, time.Until(deadline))):
		}
	}
}
