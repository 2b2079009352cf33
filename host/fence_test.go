package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/testutil"
)

// refusingDriver is a sim driver whose Destroy fails while refuse is set, as a
// libvirt host whose destroy times out.
type refusingDriver struct {
	*sim.Driver
	refuse atomic.Bool
}

func (d *refusingDriver) Destroy(ctx context.Context, id string) error {
	if d.refuse.Load() {
		return errors.New("destroy refused")
	}
	return d.Driver.Destroy(ctx, id)
}

// haSpec is a VM spec with the given HA policy (nil: HA with the defaults).
func haSpec(name string, ha *fsm.HASpec) fsm.VMSpec {
	s := spec(name)
	s.HA = ha
	return s
}

// A fence acts on what the hypervisors run, on this host and its fleet hosts:
// HA domains are destroyed or paused as their VM says, non-HA ones keep
// running, a managed domain the state does not know is destroyed, stopped ones
// are not touched.
func TestFence_StopsHADomainsPerFenceAction(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.grantLease()
	e.reconciler()
	// node-2's driver stands for a fleet host this agent runs.
	e.host.addReconciler(newHostReconciler(e.host, other, "node-2", e.otherDriver))
	pause := &fsm.HASpec{FenceAction: fsm.FencePause}
	for _, c := range []struct {
		id     string
		spec   *fsm.VMSpec // nil: no VM record (an unknown managed domain)
		node   string
		driver *sim.Driver
		domain hypervisor.DomainState
		want   hypervisor.DomainState
	}{
		{id: "ha-default", spec: ptr(haSpec("ha-default", nil)), domain: hypervisor.StateRunning, want: hypervisor.StateStopped},
		{id: "ha-destroy-paused", spec: ptr(haSpec("ha-destroy-paused", &fsm.HASpec{FenceAction: fsm.FenceDestroy})), domain: hypervisor.StatePaused, want: hypervisor.StateStopped},
		{id: "ha-pause", spec: ptr(haSpec("ha-pause", pause)), domain: hypervisor.StateRunning, want: hypervisor.StatePaused},
		{id: "ha-pause-paused", spec: ptr(haSpec("ha-pause-paused", pause)), domain: hypervisor.StatePaused, want: hypervisor.StatePaused},
		{id: "not-ha", spec: ptr(haSpec("not-ha", &fsm.HASpec{Disabled: true})), domain: hypervisor.StateRunning, want: hypervisor.StateRunning},
		{id: "ha-stopped", spec: ptr(haSpec("ha-stopped", nil)), domain: hypervisor.StateStopped, want: hypervisor.StateStopped},
		{id: "ha-crashed", spec: ptr(haSpec("ha-crashed", nil)), domain: hypervisor.StateCrashed, want: hypervisor.StateCrashed},
		{id: "unknown", domain: hypervisor.StateRunning, want: hypervisor.StateStopped},
		{id: "unknown-paused", domain: hypervisor.StatePaused, want: hypervisor.StateStopped},
		{id: "fleet-ha", spec: ptr(haSpec("fleet-ha", nil)), node: other, driver: e.otherDriver, domain: hypervisor.StateRunning, want: hypervisor.StateStopped},
		{id: "fleet-not-ha", spec: ptr(haSpec("fleet-not-ha", &fsm.HASpec{Disabled: true})), node: other, driver: e.otherDriver, domain: hypervisor.StateRunning, want: hypervisor.StateRunning},
	} {
		if c.node == "" {
			c.node = me
		}
		if c.driver == nil {
			c.driver = e.driver
		}
		vm := fsm.VM{ID: c.id, Spec: spec(c.id), Generation: 1}
		if c.spec != nil {
			vm = e.createVM(c.id, *c.spec, c.node)
		}
		e.setDomain(c.driver, vm, c.domain, 0)
		defer func() {
			if got := domainState(c.driver, c.id); got != c.want {
				t.Errorf("%s: %s domain is %s after the fence, want %s", c.id, c.domain, got, c.want)
			}
		}()
	}
	e.host.fence(context.Background())
	if !e.host.Fenced() || e.host.LeaseValid() {
		t.Error("the host is not fenced")
	}
	if !e.host.lease.safe() {
		t.Error("a fence that stopped everything must let the watchdog be petted")
	}
}

// A fence that could not stop a domain leaves the host unsafe: the watchdog
// stops being petted and the kernel resets the host.
func TestFence_FailedDestroyLeavesTheHostUnsafe(t *testing.T) {
	var drv *refusingDriver
	e := newTestEnv(t, envOptions{wrap: func(d *sim.Driver) hypervisor.Driver { drv = &refusingDriver{Driver: d}; return drv }})
	e.grantLease()
	e.reconciler()
	vm := e.createVM("ha", haSpec("ha", nil), me)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	drv.refuse.Store(true)
	e.host.fence(context.Background())
	if !e.host.Fenced() {
		t.Fatal("the host is not fenced")
	}
	if e.host.lease.safe() {
		t.Fatal("a fence that did not stop an HA domain let the watchdog be petted")
	}
	if st := domainState(e.driver, vm.ID); st != hypervisor.StateRunning {
		t.Fatalf("domain is %s", st)
	}
}

// The running host: when renewals fail its lease runs out and it fences (HA
// domains destroyed or paused, the rest running) and starts nothing while
// fenced; the next renewal lifts the fence and it runs its VMs again.
func TestHost_FencesWhenTheLeaseRunsOutAndRecoversOnRenewal(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	vms := map[string]fsm.VMSpec{
		"ha":       haSpec("ha", nil),
		"ha-pause": haSpec("ha-pause", &fsm.HASpec{FenceAction: fsm.FencePause}),
		"not-ha":   haSpec("not-ha", &fsm.HASpec{Disabled: true}),
	}
	for id, s := range vms {
		e.createVM(id, s, me)
	}
	e.host.Start()
	waitFor(t, "every vm to run", func() error {
		for id := range vms {
			if got := e.vm(id).State; got != fsm.VMRunning {
				return condf(false, "vm %s is %s", id, got)
			}
		}
		return nil
	})
	if !e.host.LeaseValid() || e.host.Fenced() {
		t.Fatal("a host whose renewals succeed has no lease")
	}

	e.cluster.set(func(c *fakeCluster) { c.renewErr = errFake })
	want := map[string]hypervisor.DomainState{"ha": hypervisor.StateStopped, "ha-pause": hypervisor.StatePaused, "not-ha": hypervisor.StateRunning}
	fencedAsWanted := func() error {
		if !e.host.Fenced() {
			return condf(false, "not fenced")
		}
		for id, st := range want {
			if got := domainState(e.driver, id); got != st {
				return condf(false, "domain %s is %s, want %s", id, got, st)
			}
		}
		return nil
	}
	waitFor(t, "the fence", fencedAsWanted)
	if e.host.LeaseValid() {
		t.Fatal("a fenced host says its lease is valid")
	}
	// Fenced, the reconciler (woken by the fence's own driver events and its
	// resync) must not restart or resume anything.
	testutil.HoldsFor(t, 5*testTiming.Heartbeat, 5*time.Millisecond, "the fence", fencedAsWanted)

	e.cluster.set(func(c *fakeCluster) { c.renewErr = nil })
	waitFor(t, "the renewal to lift the fence and the vms to run again", func() error {
		if e.host.Fenced() || !e.host.LeaseValid() {
			return condf(false, "fenced %v, lease valid %v", e.host.Fenced(), e.host.LeaseValid())
		}
		for id := range vms {
			if got := domainState(e.driver, id); got != hypervisor.StateRunning {
				return condf(false, "domain %s is %s", id, got)
			}
		}
		return nil
	})
}

// leaseUntil is when the host's lease ends as it counts it.
func leaseUntil(h *Host) time.Time {
	h.lease.mu.Lock()
	defer h.lease.mu.Unlock()
	return h.lease.until
}

// A failed renewal does not move the lease: the host fences when the last
// successful one runs out, not later.
func TestLease_FailedRenewalDoesNotExtendTheLease(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.host.Start()
	waitFor(t, "the first lease", func() error { return condf(e.host.LeaseValid(), "no lease") })
	e.cluster.set(func(c *fakeCluster) { c.renewErr = errFake })
	// A renewal in flight when the failures began may still land: start
	// counting from the first that surely failed.
	n := e.cluster.renewCalls()
	waitFor(t, "a failed renewal", func() error { return condf(e.cluster.renewCalls() > n, "no renewal yet") })
	until := leaseUntil(e.host)
	n = e.cluster.renewCalls()
	waitFor(t, "the fence", func() error { return condf(e.host.Fenced(), "not fenced") })
	if calls := e.cluster.renewCalls(); calls < n+2 {
		t.Fatalf("only %d renewals were tried before the fence; the test proves nothing", calls-n)
	}
	if got := leaseUntil(e.host); !got.Equal(until) {
		t.Fatalf("failed renewals moved the lease from %v to %v", until, got)
	}
	if now := time.Now(); now.Before(until) {
		t.Fatalf("fenced %v before the lease ran out", until.Sub(now))
	}
}

// After a fence a renewal counts only once the local state has caught up, so
// the host acts on fresh state when it runs VMs again.
func TestLease_RenewalAfterAFenceCountsOnlyOnceCaughtUp(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.host.Start()
	waitFor(t, "the first lease", func() error { return condf(e.host.LeaseValid(), "no lease") })
	e.cluster.set(func(c *fakeCluster) { c.renewErr = errFake })
	waitFor(t, "the fence", func() error { return condf(e.host.Fenced(), "not fenced") })
	e.cluster.set(func(c *fakeCluster) { c.renewErr, c.catchUpErr = nil, errFake })
	n := e.cluster.renewCalls()
	testutil.HoldsFor(t, 5*testTiming.Heartbeat, 5*time.Millisecond, "the fence while behind", func() error {
		return condf(e.host.Fenced() && !e.host.LeaseValid(), "a renewal lifted the fence before the state caught up")
	})
	if e.cluster.renewCalls() <= n {
		t.Fatal("no renewal was tried meanwhile; the test proves nothing")
	}
	e.cluster.set(func(c *fakeCluster) { c.catchUpErr = nil })
	waitFor(t, "the fence to lift", func() error { return condf(!e.host.Fenced() && e.host.LeaseValid(), "still fenced") })
}

// The watchdog is petted while the lease holds and after a fence that stopped
// everything, never while a fence could not stop an HA domain; a clean
// shutdown disarms it.
func TestWatchdog_PettedOnlyWhileSafe(t *testing.T) {
	for _, c := range []struct {
		name       string
		refuse     bool
		wantPetted bool
	}{
		{name: "fence finished", wantPetted: true},
		{name: "fence failed", refuse: true, wantPetted: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev := filepath.Join(t.TempDir(), "watchdog")
			if err := os.WriteFile(dev, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var drv *refusingDriver
			e := newTestEnv(t, envOptions{watchdog: dev, wrap: func(d *sim.Driver) hypervisor.Driver { drv = &refusingDriver{Driver: d}; return drv }})
			pets := func() int {
				b, err := os.ReadFile(dev)
				if err != nil {
					t.Fatal(err)
				}
				return len(b)
			}
			e.createVM("ha", haSpec("ha", nil), me)
			e.host.Start()
			waitFor(t, "the vm to run", func() error { return condf(e.vm("ha").State == fsm.VMRunning, "not yet") })
			p := pets()
			waitFor(t, "pets while the lease holds", func() error { return condf(pets() >= p+3, "%d pets", pets()) })

			drv.refuse.Store(c.refuse)
			e.cluster.set(func(c *fakeCluster) { c.renewErr = errFake })
			waitFor(t, "the fence", func() error { return condf(e.host.Fenced(), "not fenced") })
			if c.refuse {
				// Pets decided before the fence began may still land: wait
				// until the renewal loop has been round once since.
				n := e.cluster.renewCalls()
				waitFor(t, "a renewal attempt", func() error { return condf(e.cluster.renewCalls() > n, "none") })
				p = pets()
				testutil.HoldsFor(t, 6*testTiming.Heartbeat, 5*time.Millisecond, "no pets during a failed fence", func() error {
					return condf(pets() == p, "petted %d times", pets()-p)
				})
			} else {
				waitFor(t, "the fence to finish", func() error { return condf(domainState(e.driver, "ha") == hypervisor.StateStopped, "still running") })
				p = pets()
				waitFor(t, "pets after the fence finished", func() error { return condf(pets() >= p+3, "%d pets", pets()-p) })
			}
			drv.refuse.Store(false)
			e.cluster.set(func(c *fakeCluster) { c.renewErr = nil })
			waitFor(t, "the fence to lift", func() error { return condf(!e.host.Fenced(), "still fenced") })
			p = pets()
			waitFor(t, "pets once renewed", func() error { return condf(pets() >= p+3, "%d pets", pets()-p) })

			e.host.Shutdown()
			b, _ := os.ReadFile(dev)
			if len(b) == 0 || b[len(b)-1] != 'V' {
				t.Fatalf("device ends %q, want the magic close", b[max(0, len(b)-5):])
			}
			for _, ch := range b[:len(b)-1] {
				if ch != '1' {
					t.Fatalf("device got %q, want pets then the magic close", b)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A fence that could not stop an HA domain (a destroy that failed, a
// hypervisor that did not answer the listing) must try again: without a
// watchdog device nothing else stops the guest, and the leader restarts the VM
// elsewhere once the fence timeout has passed, so it would run twice.
func TestHost_FailedFenceIsRetried(t *testing.T) {
	var drv *refusingDriver
	e := newTestEnv(t, envOptions{wrap: func(d *sim.Driver) hypervisor.Driver { drv = &refusingDriver{Driver: d}; return drv }})
	e.createVM("ha", haSpec("ha", nil), me)
	e.host.Start()
	waitFor(t, "the vm to run", func() error { return condf(e.vm("ha").State == fsm.VMRunning, "not yet") })
	drv.refuse.Store(true) // the first destroy fails, as a libvirt call that times out
	e.cluster.set(func(c *fakeCluster) { c.renewErr = errFake })
	waitFor(t, "the fence", func() error { return condf(e.host.Fenced(), "not fenced") })
	n := e.cluster.renewCalls()
	waitFor(t, "the failed fence to be over", func() error { return condf(e.cluster.renewCalls() > n+1, "no renewal attempt yet") })
	drv.refuse.Store(false) // the hypervisor answers again
	// The leader may restart the VM elsewhere a fence timeout after the last
	// renewal, which is already behind us: a retry must come within a few
	// heartbeats, far sooner than this.
	took := testutil.EventuallyEvery(t, 1*time.Second, 5*time.Millisecond, "the fence to be retried", func() error {
		return condf(domainState(e.driver, "ha") == hypervisor.StateStopped, "HA domain still %s while fenced", domainState(e.driver, "ha"))
	})
	if took > testTiming.Timeout {
		t.Fatalf("the retried fence stopped the HA domain only after %v, more than a fence timeout", took)
	}
}
