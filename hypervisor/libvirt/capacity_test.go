package libvirt

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

func TestTestDriver_Capacity(t *testing.T) {
	d := newTestDriver(t)
	c := rawConn(t, testURI)
	info, err := c.GetNodeInfo()
	if err != nil {
		t.Fatal(err)
	}
	capa, err := d.Capacity(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if capa.VCPUs != int(info.Cpus) || capa.MemoryMiB != int64(info.Memory/1024) || capa.VCPUs == 0 {
		t.Fatalf("capacity %+v, node info %+v", capa, info)
	}
	if capa.FreeMemoryMiB <= 0 || capa.FreeMemoryMiB > capa.MemoryMiB || capa.DiskGiB <= 0 {
		t.Fatalf("capacity %+v", capa)
	}
	if !slices.Contains(capa.Networks, "default") {
		t.Fatalf("networks %v, want the test driver's active network \"default\"", capa.Networks)
	}
	// An inactive network is not offered.
	net, err := c.LookupNetworkByName("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Destroy(); err != nil {
		net.Free()
		t.Fatal(err)
	}
	defer func() {
		if err := net.Create(); err != nil {
			t.Errorf("restarting the test network: %v", err)
		}
		net.Free()
	}()
	capa, err = d.Capacity(ctxT(t, 10*time.Second))
	if err != nil || slices.Contains(capa.Networks, "default") {
		t.Fatalf("after stopping the network: %v, %v", capa.Networks, err)
	}
}

func TestTestDriver_StartRefusesWhatTheHostCannotRun(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 10*time.Second)
	spec := testSpec(t, "nowhere")
	spec.NICs = []hypervisor.NIC{{Network: "no-such-network"}}
	if err := d.Start(ctx, spec); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("unknown network: %v, want ErrInvalidSpec", err)
	}
	spec = testSpec(t, "huge")
	spec.MemoryMiB = 1 << 30
	if err := d.Start(ctx, spec); !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("1 PiB of memory: %v, want ErrInsufficientResources", err)
	}
	spec = testSpec(t, "netted")
	spec.NICs = []hypervisor.NIC{{Network: "default", MAC: "52:54:00:12:34:56"}}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("NIC on the default network: %v", err)
	}
	if _, err := d.Inspect(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
}

func TestTestDriver_StartPassesLibvirtErrorsThrough(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 10*time.Second)
	// Another domain already holds the name this VM's domain would get.
	spec := testSpec(t, "twin")
	other := spec
	other.ID = newID(t)
	otherXML, err := domainXML(other, xmlParams{VirtType: VirtTest, Arch: d.arch})
	if err != nil {
		t.Fatal(err)
	}
	otherXML = strings.Replace(otherXML, domainName(other.ID, "twin"), domainName(spec.ID, "twin"), 1)
	c := rawConn(t, testURI)
	dom, err := c.DomainDefineXML(otherXML)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { dom.Undefine(); dom.Free() }()
	if err := d.Start(ctx, spec); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("name taken: %v, want ErrInvalidSpec", err)
	}
	// A libvirt refusal keeps libvirt's own error and message: libvirt
	// refuses a multicast MAC address for a NIC.
	bad := testSpec(t, "multicast")
	bad.NICs = []hypervisor.NIC{{Network: "default", MAC: "01:00:5e:00:00:01"}}
	err = d.Start(ctx, bad)
	var le golibvirt.Error
	if !errors.As(err, &le) || le.Message == "" || !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("multicast MAC: %v, want ErrInvalidSpec wrapping a golibvirt.Error", err)
	}
	t.Logf("libvirt refusal: %v", err)
}

func TestTestDriver_StatsCountRunningDomains(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 10*time.Second)
	spec := testSpec(t, "busy")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	stopped := testSpec(t, "idle")
	if err := d.Start(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, stopped.ID); err != nil {
		t.Fatal(err)
	}
	stats, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats[stopped.ID]; ok {
		t.Fatalf("stats for a stopped domain: %v", stats)
	}
	st, ok := stats[spec.ID]
	if !ok {
		t.Fatalf("no stats for the running domain: %v", stats)
	}
	// The test driver reports only the state group, so the counters are zero
	// here; the QEMU test checks them for real.
	t.Logf("test driver stats: %+v", st)
}
