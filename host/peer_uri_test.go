package host

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/peeruri"
)

// libvirtLike is a sim driver that calls itself libvirt, so the host judges
// its targets by libvirt's URI rules, and counts the calls that would open a
// target's URI.
type libvirtLike struct {
	*sim.Driver
	migrates, remoteInspects atomic.Int32
}

func (d *libvirtLike) Name() string { return peeruri.DriverLibvirt }

func (d *libvirtLike) Migrate(ctx context.Context, id string, opts hypervisor.MigrateOptions, progress func(hypervisor.MigrateProgress)) (hypervisor.MigrateResult, error) {
	d.migrates.Add(1)
	return d.Driver.Migrate(ctx, id, opts, progress)
}

func (d *libvirtLike) InspectRemote(ctx context.Context, uri, id string) (hypervisor.Domain, error) {
	d.remoteInspects.Add(1)
	return d.Driver.InspectRemote(ctx, uri, id)
}

// publish makes node-2 a libvirt host, at API address 10.0.0.2, that
// publishes these URIs.
func (e *testEnv) publish(uri, migrateURI string) {
	e.t.Helper()
	n, err := e.fsm.Node(other)
	if err != nil {
		e.t.Fatal(err)
	}
	n.APIAddr = "10.0.0.2:8090"
	n.Hypervisor = fsm.HypervisorInfo{Driver: peeruri.DriverLibvirt, URI: uri, MigrateURI: migrateURI}
	e.must(&fsm.RegisterNode{Node: n, At: time.Now().UTC()})
}

// The source refuses to migrate to a node whose published URIs break its
// policy: the migration fails, naming the node, the URI and the rule, before
// the record says running; the driver's Migrate is never called and the guest
// keeps running here. URIs that pass go to the driver.
func TestMigrator_RefusesATargetWithABadURI(t *testing.T) {
	lab := peeruri.Policy{LibvirtSchemes: []string{peeruri.SchemeUnix}}
	for _, c := range []struct {
		name        string
		policy      peeruri.Policy
		uri, mig    string
		wantRefusal string // "" when the URIs pass
	}{
		{name: "qemu+ext", uri: "qemu+ext:///system?command=/bin/sh", wantRefusal: "qemu+ext runs a local program"},
		{name: "command parameter", uri: "qemu+tls://10.0.0.2/system?command=/bin/sh", wantRefusal: "query parameter command= runs a program"},
		{name: "the peer's local URI", uri: "qemu:///system", wantRefusal: "the node must publish a URI other hosts can reach"},
		{name: "qemu+ssh not configured", uri: "qemu+ssh://10.0.0.2/system", wantRefusal: "scheme qemu+ssh is not allowed here"},
		{name: "another host", uri: "qemu+tls://10.0.0.9/system", wantRefusal: "its host 10.0.0.9 is not the node's certified address 10.0.0.2"},
		{name: "migration stream to another host", uri: "qemu+tls://10.0.0.2/system", mig: "tcp://10.0.0.9:49152", wantRefusal: `migration URI "tcp://10.0.0.9:49152"`},
		{name: "good qemu+tls", uri: "qemu+tls://10.0.0.2/system", mig: "tcp://10.0.0.2"},
		{name: "lab qemu+unix when configured", policy: lab, uri: "qemu+unix:///system?socket=/lab/hosts/host2/run/libvirt-sock", mig: "tcp://10.0.0.2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var drv *libvirtLike
			e := newTestEnv(t, envOptions{peerURIs: c.policy, wrap: func(d *sim.Driver) hypervisor.Driver { drv = &libvirtLike{Driver: d}; return drv }})
			e.publish(c.uri, c.mig)
			vm := e.createVM("vm-1", spec("web"), me)
			e.report(vm.ID, fsm.VMRunning)
			e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
			e.startMigration("mig-1", vm.ID, fsm.MigrateLive, other)
			e.targetReady("mig-1")
			mark := e.cluster.mark()
			e.reconciler().migrator.check(context.Background())
			// A sim driver cannot reach a libvirt URI, so a migration the
			// check lets through fails in the driver: either way it fails.
			got := e.waitMigration("mig-1", fsm.MigrationFailed)
			if c.wantRefusal == "" {
				if n := drv.migrates.Load(); n != 1 || strings.Contains(got.Error, peeruri.ErrRefused.Error()) {
					t.Fatalf("URIs that pass: Migrate called %d times, migration error %q", n, got.Error)
				}
				return
			}
			for _, want := range []string{c.wantRefusal, `node "node-2"`, peeruri.ErrRefused.Error()} {
				if !strings.Contains(got.Error, want) {
					t.Fatalf("migration failed with %q, want it to say %q", got.Error, want)
				}
			}
			if uri := c.uri; c.mig == "" && !strings.Contains(got.Error, uri) {
				t.Fatalf("migration error %q does not name the URI %q", got.Error, uri)
			}
			if n := drv.migrates.Load(); n != 0 {
				t.Fatalf("the driver's Migrate was called %d times for a refused target", n)
			}
			for _, cmd := range e.cluster.since(t, mark) {
				if up, ok := cmd.(*fsm.UpdateMigration); ok && up.State == fsm.MigrationRunning {
					t.Fatal("the record said running before the target was refused")
				}
			}
			if after := e.vm(vm.ID); after.Node != me || after.Generation != vm.Generation || after.Migration != "" {
				t.Fatalf("vm on %s at generation %d migrating %q, want it here, unchanged", after.Node, after.Generation, after.Migration)
			}
			if st := domainState(e.driver, vm.ID); st != hypervisor.StateRunning {
				t.Fatalf("the guest is %s here, want running", st)
			}
		})
	}
}

// A live migration to a node of another hypervisor driver is refused: no URI
// of one driver means anything to the other.
func TestMigrator_RefusesATargetOfAnotherDriver(t *testing.T) {
	var drv *libvirtLike
	e := newTestEnv(t, envOptions{wrap: func(d *sim.Driver) hypervisor.Driver { drv = &libvirtLike{Driver: d}; return drv }})
	vm := e.createVM("vm-1", spec("web"), me)
	e.report(vm.ID, fsm.VMRunning)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.startMigration("mig-1", vm.ID, fsm.MigrateLive, other) // node-2 runs sim
	e.targetReady("mig-1")
	e.reconciler().migrator.check(context.Background())
	got := e.waitMigration("mig-1", fsm.MigrationFailed)
	if !strings.Contains(got.Error, `node "node-2" runs the "sim" hypervisor driver and this host "libvirt"`) || drv.migrates.Load() != 0 {
		t.Fatalf("migration error %q, Migrate called %d times", got.Error, drv.migrates.Load())
	}
}

// After an agent restart the source does not open a refused target's URI to
// settle a running migration: the record stays running, as when the
// destination does not answer.
func TestMigrator_SettleDoesNotOpenARefusedURI(t *testing.T) {
	var drv *libvirtLike
	e := newTestEnv(t, envOptions{wrap: func(d *sim.Driver) hypervisor.Driver { drv = &libvirtLike{Driver: d}; return drv }})
	vm := e.createVM("vm-1", spec("web"), me)
	e.runningMigration(vm, other)
	e.publish("qemu+ext:///system?command=/bin/sh", "")
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.reconciler().migrator.check(context.Background())
	if got := e.migration("mig-1"); got.State != fsm.MigrationRunning {
		t.Fatalf("migration is %s (%q), want it left running", got.State, got.Error)
	}
	if n := drv.remoteInspects.Load(); n != 0 {
		t.Fatalf("InspectRemote called %d times with a refused URI", n)
	}
}
