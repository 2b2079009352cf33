package host

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/lease"
)

func TestNew_RefusesABadConfig(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(c *Config)
	}{
		{name: "no resync interval", change: func(c *Config) { c.ResyncInterval = 0 }},
		{name: "negative load interval", change: func(c *Config) { c.LoadReportInterval = -time.Second }},
		{name: "no progress interval", change: func(c *Config) { c.MigrationProgressInterval = 0 }},
		{name: "lease timeout under four heartbeats", change: func(c *Config) {
			c.Lease = lease.Timing{Heartbeat: time.Second, Timeout: 3 * time.Second, Grace: time.Second}
		}},
		{name: "missing watchdog device", change: func(c *Config) { c.Watchdog = filepath.Join(t.TempDir(), "missing") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NodeID, cfg.NodeName = me, "node-1"
			c.change(&cfg)
			f := fsm.New()
			if h, err := New(cfg, &fakeCluster{fsm: f}, f, &fakeLoads{}, newSim(t)); err == nil {
				h.Shutdown()
				t.Fatal("accepted")
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Logger = nil
	f := fsm.New()
	h, err := New(cfg, &fakeCluster{fsm: f}, f, &fakeLoads{}, newSim(t))
	if err != nil {
		t.Fatalf("a config without a logger was refused: %v", err)
	}
	h.Shutdown()
}

// newSim is a sim host of its own, closed when the test ends.
func newSim(t *testing.T) *sim.Driver {
	d := sim.New(sim.Config{Registry: sim.NewRegistry()})
	t.Cleanup(func() { d.Close() })
	return d
}

// A fleet host's reconciler runs its VMs on its own driver, reports them as
// its node, and acts on the events the fleet routes to it (one VM, or a
// failover that moved many).
func TestHost_RunFleetHostActsOnRoutedEvents(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.host.cfg.ResyncInterval = time.Hour // only events wake the fleet host
	e.createVM("vm-1", spec("fleet-1"), other)
	e.host.Start()
	events := make(chan fsm.Event, 4)
	e.host.RunFleetHost(other, "node-2", e.otherDriver, events)
	runsThere := func(id string) func() error {
		return func() error {
			got := e.vm(id)
			return condf(got.State == fsm.VMRunning && domainState(e.otherDriver, id) == hypervisor.StateRunning && domainState(e.driver, id) == absent,
				"record %s, fleet domain %s, own domain %s", got.State, domainState(e.otherDriver, id), domainState(e.driver, id))
		}
	}
	waitFor(t, "the fleet host to run its vm", runsThere("vm-1"))

	e.createVM("vm-2", spec("fleet-2"), other)
	events <- fsm.Event{Kind: "vm", ID: "vm-2"}
	waitFor(t, "the routed vm event to start vm-2", runsThere("vm-2"))

	e.createVM("vm-3", spec("fleet-3"), other)
	events <- fsm.Event{Kind: "failover", ID: "fo-1"}
	waitFor(t, "the routed failover event to start vm-3", runsThere("vm-3"))
}

func TestDomainSpec_CarriesTheVMsSpec(t *testing.T) {
	vm := &fsm.VM{ID: "vm-1", Generation: 7, Spec: fsm.VMSpec{
		Name: "web", VCPUs: 2, MemoryMiB: 512, DiskGiB: 10, Labels: map[string]string{"app": "web"},
		Boot: &fsm.BootSource{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0", Disk: "/d.qcow2"},
		NICs: []fsm.NIC{{Network: "prod"}, {Bridge: "br0", MAC: "52:54:00:00:00:01"}},
	}}
	want := hypervisor.DomainSpec{
		ID: "vm-1", Name: "web", Generation: 7, VCPUs: 2, MemoryMiB: 512, DiskGiB: 10, Labels: map[string]string{"app": "web"},
		Boot: &hypervisor.BootSource{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0", Disk: "/d.qcow2"},
		NICs: []hypervisor.NIC{{Network: "prod"}, {Bridge: "br0", MAC: "52:54:00:00:00:01"}},
	}
	if got := domainSpec(vm); !reflect.DeepEqual(got, want) {
		t.Fatalf("domain spec %+v, want %+v", got, want)
	}
}
