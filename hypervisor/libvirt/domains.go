package libvirt

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// libvirtCode returns the libvirt error code inside err, or ERR_OK.
func libvirtCode(err error) golibvirt.ErrorNumber {
	var le golibvirt.Error
	if errors.As(err, &le) {
		return le.Code
	}
	return golibvirt.ERR_OK
}

// readMeta returns the NovaCron metadata of dom; managed is false for a foreign
// domain (no metadata in our namespace, unreadable metadata, or metadata whose
// ID is not the domain's UUID) and for a domain that vanished meanwhile.
func (d *Driver) readMeta(dom *golibvirt.Domain) (m vmMeta, managed bool, err error) {
	s, err := dom.GetMetadata(golibvirt.DOMAIN_METADATA_ELEMENT, MetadataNamespace, golibvirt.DOMAIN_AFFECT_CURRENT)
	switch libvirtCode(err) {
	case golibvirt.ERR_OK:
	case golibvirt.ERR_NO_DOMAIN_METADATA, golibvirt.ERR_NO_DOMAIN:
		return vmMeta{}, false, nil
	default:
		return vmMeta{}, false, fmt.Errorf("read domain metadata: %w", err)
	}
	m, perr := parseMetadata(s)
	uuid, uerr := dom.GetUUIDString()
	if perr != nil || uerr != nil || !strings.EqualFold(uuid, m.ID) {
		name, _ := dom.GetName()
		d.logger.Warn("domain carries novacron metadata that does not match it; treating it as foreign",
			"domain", name, "uuid", uuid, "metadata", s)
		return vmMeta{}, false, nil
	}
	m.ID = strings.ToLower(m.ID)
	return m, true, nil
}

// lookup returns the managed domain with the given ID and its metadata, or
// ErrNotFound (also for a foreign domain with that UUID). The caller frees dom.
func (d *Driver) lookup(c *golibvirt.Connect, id string) (*golibvirt.Domain, vmMeta, error) {
	if !uuidRE.MatchString(id) {
		return nil, vmMeta{}, d.notFound(id)
	}
	dom, err := c.LookupDomainByUUIDString(strings.ToLower(id))
	if libvirtCode(err) == golibvirt.ERR_NO_DOMAIN {
		return nil, vmMeta{}, d.notFound(id)
	}
	if err != nil {
		return nil, vmMeta{}, fmt.Errorf("look up domain %s: %w", id, err)
	}
	m, managed, err := d.readMeta(dom)
	if err != nil || !managed {
		dom.Free()
		if err == nil {
			err = d.notFound(id)
		}
		return nil, vmMeta{}, err
	}
	d.setKnown(m.ID, true)
	return dom, m, nil
}

// view reads a managed domain's state and size.
func (d *Driver) view(dom *golibvirt.Domain, m vmMeta) (hypervisor.Domain, golibvirt.DomainState, error) {
	return describe(dom, m, m.StopRequested || d.isRequested(m.ID))
}

// describe reads a managed domain's state and size; requested says it was
// stopped on request (so destroyed reads stopped, not crashed).
func describe(dom *golibvirt.Domain, m vmMeta, requested bool) (hypervisor.Domain, golibvirt.DomainState, error) {
	st, reason, err := dom.GetState()
	if err != nil {
		return hypervisor.Domain{}, st, fmt.Errorf("read state of domain %s: %w", m.ID, err)
	}
	info, err := dom.GetInfo()
	if err != nil {
		return hypervisor.Domain{}, st, fmt.Errorf("read info of domain %s: %w", m.ID, err)
	}
	state, word := classify(st, reason, requested)
	return hypervisor.Domain{
		ID: m.ID, Name: m.Name, Generation: m.Generation, State: state,
		VCPUs: int(info.NrVirtCpu), MemoryMiB: int64(info.MaxMem / 1024), Reason: word,
	}, st, nil
}

// Inspect returns one managed domain, or hypervisor.ErrNotFound.
func (d *Driver) Inspect(ctx context.Context, id string) (hypervisor.Domain, error) {
	var out hypervisor.Domain
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookup(c, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		out, _, err = d.view(dom, m)
		return err
	})
	return out, err
}

// List returns every managed domain, sorted by ID. Domains that vanish while
// being listed are left out.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Domain, error) {
	var out []hypervisor.Domain
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		var err error
		out, _, err = d.listOn(c)
		return err
	})
	return out, err
}

// listOn lists managed domains and the names of foreign ones.
func (d *Driver) listOn(c *golibvirt.Connect) ([]hypervisor.Domain, []string, error) {
	doms, err := c.ListAllDomains(0)
	if err != nil {
		return nil, nil, fmt.Errorf("list domains: %w", err)
	}
	defer func() {
		for i := range doms {
			doms[i].Free()
		}
	}()
	var managed []hypervisor.Domain
	var foreign []string
	for i := range doms {
		m, ok, err := d.readMeta(&doms[i])
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			if name, err := doms[i].GetName(); err == nil {
				foreign = append(foreign, name)
			}
			continue
		}
		v, _, err := d.view(&doms[i], m)
		if libvirtCode(err) == golibvirt.ERR_NO_DOMAIN {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		d.setKnown(m.ID, true)
		managed = append(managed, v)
	}
	sort.Slice(managed, func(i, j int) bool { return managed[i].ID < managed[j].ID })
	sort.Strings(foreign)
	return managed, foreign, nil
}

// Foreign lists the names of the domains on this host that NovaCron does not
// manage, so they can be shown (and never touched).
func (d *Driver) Foreign(ctx context.Context) ([]string, error) {
	var out []string
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		var err error
		_, out, err = d.listOn(c)
		return err
	})
	return out, err
}

// Capacity reports the host's CPUs and memory (NodeGetInfo), its free memory
// (NodeGetFreeMemory: memory not used even as cache), the size of the file
// system holding Config.ImageDir (or "/" when that folder is missing), and the
// active libvirt networks. The disk figure is read on this machine, so it is
// only meaningful for a local URI.
func (d *Driver) Capacity(ctx context.Context) (hypervisor.Capacity, error) {
	var out hypervisor.Capacity
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		info, err := c.GetNodeInfo()
		if err != nil {
			return fmt.Errorf("read node info: %w", err)
		}
		free, err := c.GetFreeMemory()
		if err != nil {
			return fmt.Errorf("read free memory: %w", err)
		}
		nets, err := c.ListAllNetworks(golibvirt.CONNECT_LIST_NETWORKS_ACTIVE)
		if err != nil {
			return fmt.Errorf("list networks: %w", err)
		}
		names := make([]string, 0, len(nets))
		for i := range nets {
			if name, err := nets[i].GetName(); err == nil {
				names = append(names, name)
			}
			nets[i].Free()
		}
		sort.Strings(names)
		out = hypervisor.Capacity{
			VCPUs: int(info.Cpus), MemoryMiB: int64(info.Memory / 1024),
			FreeMemoryMiB: int64(free / (1 << 20)), DiskGiB: diskGiB(d.cfg.ImageDir), Networks: names,
		}
		return nil
	})
	return out, err
}

// diskGiB is the size of the file system holding dir, or of "/" when dir is
// missing.
func diskGiB(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		if err := syscall.Statfs("/", &st); err != nil {
			return 0
		}
	}
	return int64(st.Blocks) * st.Bsize >> 30
}

// onDomain runs f on the managed domain id, with its current state and reason,
// as one call on the connection.
func (d *Driver) onDomain(ctx context.Context, id string, f func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, reason int) error) error {
	return d.call(ctx, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookup(c, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		st, reason, err := dom.GetState()
		if err != nil {
			return fmt.Errorf("read state of domain %s: %w", m.ID, err)
		}
		return f(dom, m, st, reason)
	})
}
