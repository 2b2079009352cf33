package libvirt

import (
	"strings"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

func TestConvertDomainStats_SumsDevicesAndCountsOnlineVCPUs(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	online := golibvirt.DomainStatsVcpu{StateSet: true, State: golibvirt.VCPU_RUNNING}
	offline := golibvirt.DomainStatsVcpu{StateSet: true, State: golibvirt.VCPU_OFFLINE}
	r := golibvirt.DomainStats{
		State: &golibvirt.DomainStatsState{StateSet: true, State: golibvirt.DOMAIN_PAUSED, ReasonSet: true, Reason: int(golibvirt.DOMAIN_PAUSED_USER)},
		Cpu:   &golibvirt.DomainStatsCPU{TimeSet: true, Time: 1_500_000_000},
		Vcpu:  []golibvirt.DomainStatsVcpu{online, online, offline, offline},
		Balloon: &golibvirt.DomainStatsBalloon{
			CurrentSet: true, Current: 512 << 10, MaximumSet: true, Maximum: 1 << 20,
			AvailableSet: true, Available: 500 << 10, UnusedSet: true, Unused: 100 << 10, UsableSet: true, Usable: 300 << 10,
		},
		Block: []golibvirt.DomainStatsBlock{
			{RdBytesSet: true, RdBytes: 1000, WrBytesSet: true, WrBytes: 10, RdReqsSet: true, RdReqs: 3, WrReqsSet: true, WrReqs: 1},
			{RdBytesSet: true, RdBytes: 24, RdReqsSet: true, RdReqs: 1}, // a read-only seed
		},
		Net: []golibvirt.DomainStatsNet{
			{RxBytesSet: true, RxBytes: 600, TxBytesSet: true, TxBytes: 60, RxPktsSet: true, RxPkts: 6, TxPktsSet: true, TxPkts: 1},
			{RxBytesSet: true, RxBytes: 400, TxBytesSet: true, TxBytes: 40, RxPktsSet: true, RxPkts: 4, TxPktsSet: true, TxPkts: 2},
		},
	}
	got := convertDomainStats(r, "vm-id", false, at)
	want := hypervisor.DomainStats{
		ID: "vm-id", At: at, State: hypervisor.StatePaused, CPUTime: 1500 * time.Millisecond, VCPUs: 2,
		MemoryMaxBytes: 1 << 30, BalloonBytes: 512 << 20, MemoryUsedBytes: 200 << 20, GuestMemory: true,
		DiskReadBytes: 1024, DiskWriteBytes: 10, DiskReadOps: 4, DiskWriteOps: 1,
		NetRxBytes: 1000, NetTxBytes: 100, NetRxPackets: 10, NetTxPackets: 3,
	}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// A record with only some groups (libvirt leaves out what it cannot read)
// gives zeros for the rest, and the vCPU list's size when no vCPU reads
// online.
func TestConvertDomainStats_MissingGroups(t *testing.T) {
	r := golibvirt.DomainStats{Vcpu: make([]golibvirt.DomainStatsVcpu, 3)}
	got := convertDomainStats(r, "vm-id", false, time.Time{})
	if got != (hypervisor.DomainStats{ID: "vm-id", VCPUs: 3, CPUMissing: true}) {
		t.Fatalf("got %+v", got)
	}
}

// A domain busy with another job (NOWAIT) gives its disks' names without
// counters: the disk group is missing, not zero. A disk without counters
// beside one that has them (an empty CD-ROM drive) is not.
func TestConvertDomainStats_DisksWithoutCounters(t *testing.T) {
	named := golibvirt.DomainStatsBlock{NameSet: true, Name: "vda"}
	counted := golibvirt.DomainStatsBlock{NameSet: true, Name: "vdb", RdBytesSet: true, RdBytes: 7, RdReqsSet: true, RdReqs: 1}
	nic := golibvirt.DomainStatsNet{NameSet: true, Name: "vnet0"}
	r := golibvirt.DomainStats{Cpu: &golibvirt.DomainStatsCPU{TimeSet: true, Time: 1}, Block: []golibvirt.DomainStatsBlock{named, named}, Net: []golibvirt.DomainStatsNet{nic}}
	if got := convertDomainStats(r, "vm", false, time.Time{}); !got.DiskMissing || !got.NetMissing || got.CPUMissing {
		t.Fatalf("disks and NIC without counters: %+v", got)
	}
	r.Block = []golibvirt.DomainStatsBlock{named, counted}
	r.Net = nil
	if got := convertDomainStats(r, "vm", false, time.Time{}); got.DiskMissing || got.NetMissing || got.DiskReadBytes != 7 {
		t.Fatalf("a disk with counters beside one without, no NIC: %+v", got)
	}
}

func TestGuestMemoryUsed_PrefersWhatTheGuestCouldFree(t *testing.T) {
	const mib = 1 << 10 // balloon figures are in KiB
	cases := map[string]struct {
		b     golibvirt.DomainStatsBalloon
		used  uint64
		guest bool
	}{
		"usable reported": {golibvirt.DomainStatsBalloon{CurrentSet: true, Current: 1024 * mib,
			AvailableSet: true, Available: 1000 * mib, UnusedSet: true, Unused: 100 * mib, UsableSet: true, Usable: 700 * mib}, 300 << 20, true},
		"unused only": {golibvirt.DomainStatsBalloon{CurrentSet: true, Current: 1024 * mib,
			AvailableSet: true, Available: 1000 * mib, UnusedSet: true, Unused: 100 * mib}, 900 << 20, true},
		"no guest figures": {golibvirt.DomainStatsBalloon{CurrentSet: true, Current: 1024 * mib}, 1024 << 20, false},
		"unused without available": {golibvirt.DomainStatsBalloon{CurrentSet: true, Current: 1024 * mib,
			UnusedSet: true, Unused: 100 * mib}, 1024 << 20, false},
		"nonsense (usable over available)": {golibvirt.DomainStatsBalloon{CurrentSet: true, Current: 1024 * mib,
			AvailableSet: true, Available: 100 * mib, UsableSet: true, Usable: 700 * mib}, 1024 << 20, false},
	}
	for name, c := range cases {
		used, guest := guestMemoryUsed(&c.b)
		if used != c.used || guest != c.guest {
			t.Errorf("%s: used %d (guest %v), want %d (%v)", name, used, guest, c.used, c.guest)
		}
	}
}

// DomainStats holds the active managed domains alone: not the test driver's
// own (foreign) domain, which runs, nor a stopped managed one.
func TestTestDriver_DomainStatsOfActiveManagedDomainsOnly(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	running, paused, stopped := testSpec(t, "running"), testSpec(t, "paused"), testSpec(t, "stopped")
	for _, spec := range []hypervisor.DomainSpec{running, paused, stopped} {
		if err := d.Start(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Suspend(ctx, paused.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, stopped.ID); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	stats, err := d.DomainStats(ctx)
	if err != nil {
		t.Fatalf("DomainStats: %v", err)
	}
	got := map[string]hypervisor.DomainStats{}
	for _, s := range stats {
		got[s.ID] = s
	}
	if len(got) != 2 || got[running.ID].State != hypervisor.StateRunning || got[paused.ID].State != hypervisor.StatePaused {
		t.Fatalf("DomainStats = %+v, want %s running and %s paused alone", stats, running.ID, paused.ID)
	}
	for _, s := range stats {
		if s.At.Before(before) || s.At.After(time.Now()) {
			t.Errorf("%s: sampled at %v, not during the call", s.ID, s.At)
		}
	}
}

// Without a stats period QEMU never asks the guest for its memory figures,
// and DomainStats could only report the balloon's size as used.
func TestDomainXML_BalloonPollsGuestMemory(t *testing.T) {
	doc, err := domainXML(testSpec(t, "balloon"), xmlParams{VirtType: "qemu", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `<memballoon model="virtio">`) || !strings.Contains(doc, `<stats period="10"></stats>`) {
		t.Fatalf("no virtio balloon with a stats period in:\n%s", doc)
	}
}
