package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// domainStatsTypes are the stats groups DomainStats asks for. Without the
// ENFORCE flag libvirt leaves out a group it cannot read (a balloon with no
// guest driver) instead of failing the call.
const domainStatsTypes = golibvirt.DOMAIN_STATS_STATE | golibvirt.DOMAIN_STATS_CPU_TOTAL |
	golibvirt.DOMAIN_STATS_BALLOON | golibvirt.DOMAIN_STATS_VCPU |
	golibvirt.DOMAIN_STATS_INTERFACE | golibvirt.DOMAIN_STATS_BLOCK

var _ hypervisor.StatsReader = (*Driver)(nil)

// domainStatsFlags: active domains only, and NOWAIT: a domain busy with
// another job (a snapshot, a hotplug, a stuck QEMU monitor) gives what can
// be read without its monitor instead of holding the call, and with it the
// connection, which runs one call at a time, for up to libvirt's 30 s job
// wait. What it skips (the disk counters) is marked missing.
const domainStatsFlags = golibvirt.CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE | golibvirt.CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT

// DomainStats samples every active (running or paused) managed domain with
// one bulk call (virConnectGetAllDomainStats), so a host's sampling costs one
// round trip for the counters however many domains run, plus the metadata
// read that tells managed domains from foreign ones, as List does. The
// order follows libvirt's.
func (d *Driver) DomainStats(ctx context.Context) ([]hypervisor.DomainStats, error) {
	var out []hypervisor.DomainStats
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		records, err := c.GetAllDomainStats(nil, domainStatsTypes, domainStatsFlags)
		if err != nil {
			return fmt.Errorf("read domain stats: %w", err)
		}
		at := time.Now()
		// The binding holds a reference on each record's domain.
		defer func() {
			for _, r := range records {
				r.Domain.Free()
			}
		}()
		for _, r := range records {
			m, ok, err := d.readMeta(r.Domain)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			out = append(out, convertDomainStats(r, m.ID, m.StopRequested || d.isRequested(m.ID), at))
		}
		return nil
	})
	if err != nil {
		// out is not read then: an abandoned call (ctx) may still fill it.
		return nil, err
	}
	return out, nil
}

// convertDomainStats turns one libvirt stats record into a sample of domain
// id; requested is as for classify.
func convertDomainStats(r golibvirt.DomainStats, id string, requested bool, at time.Time) hypervisor.DomainStats {
	s := hypervisor.DomainStats{ID: id, At: at}
	if st := r.State; st != nil && st.StateSet {
		s.State, _ = classify(st.State, st.Reason, requested)
	}
	if r.Cpu != nil && r.Cpu.TimeSet {
		s.CPUTime = time.Duration(r.Cpu.Time)
	} else {
		s.CPUMissing = true
	}
	s.VCPUs = onlineVCPUs(r.Vcpu)
	if b := r.Balloon; b != nil {
		s.MemoryMaxBytes, s.BalloonBytes = b.Maximum<<10, b.Current<<10
		s.MemoryUsedBytes, s.GuestMemory = guestMemoryUsed(b)
	}
	// A disk or interface libvirt could not read has its name and no
	// counters. One without counters beside others that have them (an
	// empty CD-ROM drive) adds nothing; when none has any, the group was
	// not read.
	s.DiskMissing = len(r.Block) > 0
	for _, blk := range r.Block {
		s.DiskMissing = s.DiskMissing && !blk.RdBytesSet
		s.DiskReadBytes += blk.RdBytes
		s.DiskWriteBytes += blk.WrBytes
		s.DiskReadOps += blk.RdReqs
		s.DiskWriteOps += blk.WrReqs
	}
	s.NetMissing = len(r.Net) > 0
	for _, n := range r.Net {
		s.NetMissing = s.NetMissing && !n.RxBytesSet
		s.NetRxBytes += n.RxBytes
		s.NetTxBytes += n.TxBytes
		s.NetRxPackets += n.RxPkts
		s.NetTxPackets += n.TxPkts
	}
	return s
}

// onlineVCPUs counts the vCPUs that are not offline. The binding sizes the
// list by the maximum and marks the entries libvirt left out offline; when
// none reads online (the group could not be read) the maximum is the better
// guess.
func onlineVCPUs(vcpus []golibvirt.DomainStatsVcpu) int {
	n := 0
	for _, v := range vcpus {
		if v.StateSet && v.State != golibvirt.VCPU_OFFLINE {
			n++
		}
	}
	if n == 0 {
		return len(vcpus)
	}
	return n
}

// guestMemoryUsed is the memory the guest uses, in bytes, and whether the
// guest said so: its total (available) less what it could give back at
// once (usable: free memory plus reclaimable caches, as a Linux guest's
// MemAvailable), or less its free memory (unused) when it does not report
// usable. A guest's page cache fills its free memory over time, so
// available-unused alone reads nearly full on any guest that has run a
// while. Without the guest's figures (no balloon driver in the guest, or
// stats not polled) it is the balloon's size: what the host gave it.
func guestMemoryUsed(b *golibvirt.DomainStatsBalloon) (uint64, bool) {
	if b.AvailableSet {
		switch {
		case b.UsableSet && b.Usable <= b.Available:
			return (b.Available - b.Usable) << 10, true
		case b.UnusedSet && b.Unused <= b.Available:
			return (b.Available - b.Unused) << 10, true
		}
	}
	return b.Current << 10, false
}
