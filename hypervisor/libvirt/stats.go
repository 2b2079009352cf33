package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// statsTypes are the stats groups Stats asks for; groups a driver lacks are
// skipped by libvirt (no ENFORCE flag).
const statsTypes = golibvirt.DOMAIN_STATS_CPU_TOTAL | golibvirt.DOMAIN_STATS_BALLOON |
	golibvirt.DOMAIN_STATS_BLOCK | golibvirt.DOMAIN_STATS_INTERFACE

// Stats returns counters for every active managed domain, keyed by VM ID, from
// libvirt's bulk stats (GetAllDomainStats): CPU time, the balloon's current memory, bytes
// read and written over all disks, and bytes received and sent over all NICs.
func (d *Driver) Stats(ctx context.Context) (map[string]hypervisor.Stats, error) {
	out := map[string]hypervisor.Stats{}
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		doms, err := c.ListAllDomains(golibvirt.CONNECT_LIST_DOMAINS_ACTIVE)
		if err != nil {
			return fmt.Errorf("list active domains: %w", err)
		}
		defer func() {
			for i := range doms {
				doms[i].Free()
			}
		}()
		var managed []*golibvirt.Domain
		for i := range doms {
			_, ok, err := d.readMeta(&doms[i])
			if err != nil {
				return err
			}
			if ok {
				managed = append(managed, &doms[i])
			}
		}
		// An empty list would mean "every domain" to GetAllDomainStats.
		if len(managed) == 0 {
			return nil
		}
		stats, err := c.GetAllDomainStats(managed, statsTypes, 0)
		if err != nil {
			return fmt.Errorf("read domain stats: %w", err)
		}
		for _, s := range stats {
			// The binding takes a reference on each record's domain.
			uuid, err := s.Domain.GetUUIDString()
			s.Domain.Free()
			if err == nil {
				out[uuid] = convertStats(s)
			}
		}
		return nil
	})
	return out, err
}

// convertStats sums a domain's libvirt stats into hypervisor.Stats.
func convertStats(s golibvirt.DomainStats) hypervisor.Stats {
	var st hypervisor.Stats
	if s.Cpu != nil && s.Cpu.TimeSet {
		st.CPUTime = time.Duration(s.Cpu.Time)
	}
	if b := s.Balloon; b != nil {
		switch {
		case b.CurrentSet:
			st.MemoryMiB = int64(b.Current / 1024)
		case b.MaximumSet:
			st.MemoryMiB = int64(b.Maximum / 1024)
		}
	}
	for _, blk := range s.Block {
		if blk.RdBytesSet {
			st.DiskRead += blk.RdBytes
		}
		if blk.WrBytesSet {
			st.DiskWrite += blk.WrBytes
		}
	}
	for _, n := range s.Net {
		if n.RxBytesSet {
			st.NetRxBytes += n.RxBytes
		}
		if n.TxBytesSet {
			st.NetTxBytes += n.TxBytes
		}
	}
	return st
}
