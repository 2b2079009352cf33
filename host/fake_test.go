package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/peeruri"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/lease"
)

// The real FSM is the State the agent wires in.
var _ State = (*fsm.FSM)(nil)

// errFake is what the fake cluster answers when a test tells it to fail.
var errFake = errors.New("fake cluster: no leader")

// fakeCluster applies commands straight to a real FSM at increasing indexes,
// as a one-node Raft would, and records them. A test can make applies,
// renewals or catch-ups fail.
type fakeCluster struct {
	fsm *fsm.FSM

	mu      sync.Mutex
	index   uint64
	applied []fsm.Command
	// applyErr, renewErr and catchUpErr, when set, are what Apply, RenewLease
	// and CatchUp answer.
	applyErr, renewErr, catchUpErr error
	// refuse, when set, may refuse one command with an error (nil lets it
	// through), as a lost leader would.
	refuse   func(fsm.Command) error
	renewals int
}

var _ Cluster = (*fakeCluster)(nil)

func (c *fakeCluster) Apply(_ context.Context, cmd fsm.Command) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applyErr != nil {
		return 0, c.applyErr
	}
	if c.refuse != nil {
		if err := c.refuse(cmd); err != nil {
			return 0, err
		}
	}
	c.applied = append(c.applied, cmd)
	c.index++
	if err := c.fsm.ApplyCommand(cmd, c.index); err != nil {
		return 0, err
	}
	return c.index, nil
}

func (c *fakeCluster) CatchUp(ctx context.Context, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.catchUpErr != nil {
		return c.catchUpErr
	}
	return ctx.Err()
}

func (c *fakeCluster) WaitCaughtUp(ctx context.Context) bool { return ctx.Err() == nil }

func (c *fakeCluster) RenewLease(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.renewals++
	if c.renewErr != nil {
		return c.renewErr
	}
	return ctx.Err()
}

// set changes what the fake answers, under its lock.
func (c *fakeCluster) set(f func(c *fakeCluster)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *fakeCluster) renewCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renewals
}

// mark returns how many commands were applied so far, for since.
func (c *fakeCluster) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.applied)
}

// since returns the commands applied after mark, batches opened up.
// appliedSince returns the commands applied since mark, batches whole.
func (c *fakeCluster) appliedSince(mark int) []fsm.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]fsm.Command(nil), c.applied[mark:]...)
}

func (c *fakeCluster) since(t *testing.T, mark int) []fsm.Command {
	t.Helper()
	c.mu.Lock()
	cmds := append([]fsm.Command(nil), c.applied[mark:]...)
	c.mu.Unlock()
	var out []fsm.Command
	for _, cmd := range cmds {
		b, ok := cmd.(*fsm.Batch)
		if !ok {
			out = append(out, cmd)
			continue
		}
		for _, e := range b.Entries {
			inner, err := e.Command()
			if err != nil {
				t.Fatalf("decoding a batch entry: %v", err)
			}
			out = append(out, inner)
		}
	}
	return out
}

// reportsSince returns the VM reports applied after mark.
func (c *fakeCluster) reportsSince(t *testing.T, mark int) []*fsm.ReportVM {
	t.Helper()
	var out []*fsm.ReportVM
	for _, cmd := range c.since(t, mark) {
		if r, ok := cmd.(*fsm.ReportVM); ok {
			out = append(out, r)
		}
	}
	return out
}

// fakeLoads is a LoadSink that keeps every report.
type fakeLoads struct {
	mu      sync.Mutex
	reports []fsm.LoadReport
}

func (l *fakeLoads) ReportLoad(_ context.Context, r fsm.LoadReport) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports = append(l.reports, r)
	return nil
}

func (l *fakeLoads) all() []fsm.LoadReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]fsm.LoadReport(nil), l.reports...)
}

// Test node IDs: the host under test, and another node.
const (
	me    = "n1"
	other = "n2"
)

// testEnv is one host agent over a fake cluster, a real FSM and a sim driver.
// The FSM knows two alive nodes: this host (me, node-1) and another (other,
// node-2), whose sim drivers share a registry of their own so migrations
// between them stay inside the test.
type testEnv struct {
	t       *testing.T
	fsm     *fsm.FSM
	cluster *fakeCluster
	loads   *fakeLoads
	host    *Host
	// driver is this host's hypervisor; otherDriver node-2's.
	driver, otherDriver *sim.Driver
}

// envOptions shape a test environment.
type envOptions struct {
	// simMemoryMiB sizes this host's sim driver (default 16 GiB); networks
	// are its active networks.
	simMemoryMiB int64
	networks     []string
	// otherSim configures node-2's sim driver, beside its name and registry.
	otherSim sim.Config
	// migrateRateMiBps is how fast this host's sim driver copies a migration.
	migrateRateMiBps int64
	// watchdog is the watchdog device's path.
	watchdog string
	// wrap, when set, wraps this host's driver (to make calls fail).
	wrap func(*sim.Driver) hypervisor.Driver
	// bootFiles is Config.BootFiles.
	bootFiles BootFiles
	// peerURIs is Config.PeerURIs.
	peerURIs peeruri.Policy
	// reportGather and resync, when set, replace Config.ReportGather and
	// the test's short Config.ResyncInterval.
	reportGather, resync time.Duration
}

// testTiming is a short fencing lease: a renewal every 20 ms, the host's lease
// runs out 80 ms after the last one.
var testTiming = lease.Timing{Heartbeat: 20 * time.Millisecond, Timeout: 120 * time.Millisecond, Grace: 40 * time.Millisecond}

// newTestEnv builds the environment; the host is made but not started. Both
// nodes are registered in the FSM as big hosts, so placement never refuses.
func newTestEnv(t *testing.T, o envOptions) *testEnv {
	t.Helper()
	reg := sim.NewRegistry()
	drv := sim.New(sim.Config{Name: "node-1", MemoryMiB: o.simMemoryMiB, Networks: o.networks, Registry: reg, MigrateRateMiBps: o.migrateRateMiBps})
	oc := o.otherSim
	oc.Name, oc.Registry = "node-2", reg
	otherDrv := sim.New(oc)
	f := fsm.New()
	e := &testEnv{t: t, fsm: f, cluster: &fakeCluster{fsm: f}, loads: &fakeLoads{}, driver: drv, otherDriver: otherDrv}
	for _, n := range []struct{ id, name string }{{me, "node-1"}, {other, "node-2"}} {
		e.must(&fsm.RegisterNode{Node: fsm.Node{
			ID: n.id, Name: n.name, RaftAddr: "127.0.0.1:1", Status: fsm.NodeAlive,
			Capacity:   fsm.Capacity{VCPUs: 64, MemoryMiB: 1 << 20, DiskGiB: 10000},
			Hypervisor: fsm.HypervisorInfo{Driver: "sim", URI: "sim://" + n.name},
			Networks:   []string{"default", "prod"},
		}, At: time.Now().UTC()})
	}
	cfg := DefaultConfig()
	cfg.NodeID, cfg.NodeName = me, "node-1"
	cfg.ResyncInterval = 50 * time.Millisecond
	if o.resync > 0 {
		cfg.ResyncInterval = o.resync
	}
	if o.reportGather > 0 {
		cfg.ReportGather = o.reportGather
	}
	cfg.StopTimeout = time.Second
	cfg.MigrationProgressInterval = 10 * time.Millisecond
	cfg.LoadReportInterval = 30 * time.Millisecond
	cfg.Lease = testTiming
	cfg.Watchdog = o.watchdog
	cfg.BootFiles = o.bootFiles
	cfg.PeerURIs = o.peerURIs
	cfg.Logger = testutil.Logger(t)
	var d hypervisor.Driver = drv
	if o.wrap != nil {
		d = o.wrap(drv)
	}
	h, err := New(cfg, e.cluster, f, e.loads, d)
	if err != nil {
		t.Fatal(err)
	}
	e.host = h
	t.Cleanup(func() {
		h.Shutdown()
		drv.Close()
		otherDrv.Close()
	})
	return e
}

// must applies a command the test needs and fails the test if it is refused.
func (e *testEnv) must(cmd fsm.Command) {
	e.t.Helper()
	if _, err := e.cluster.Apply(context.Background(), cmd); err != nil {
		e.t.Fatalf("apply %T: %v", cmd, err)
	}
}

// grantLease gives the host a lease for the rest of the test, without the
// renewal loop.
func (e *testEnv) grantLease() { e.host.lease.renewed(time.Now().Add(time.Hour)) }

// reconciler returns a reconciler of this host that does not run: the test
// calls its methods itself.
func (e *testEnv) reconciler() *hostReconciler {
	return e.host.addReconciler(newHostReconciler(e.host, me, "node-1", e.host.driver))
}

// spec is a small VM spec.
func spec(name string) fsm.VMSpec {
	return fsm.VMSpec{Name: name, VCPUs: 2, MemoryMiB: 512, DiskGiB: 10}
}

// createVM creates a VM placed on node (generation 1, desired running).
func (e *testEnv) createVM(id string, s fsm.VMSpec, node string) fsm.VM {
	e.t.Helper()
	e.must(&fsm.CreateVM{ID: id, Spec: s, Node: node, Reason: "test", At: time.Now().UTC()})
	vm := e.vm(id)
	if vm.Node != node {
		e.t.Fatalf("vm %s placed on %q, want %q", id, vm.Node, node)
	}
	return vm
}

// report records, as this host would, that the VM is in state.
func (e *testEnv) report(id string, state fsm.VMState) {
	e.t.Helper()
	vm := e.vm(id)
	e.must(&fsm.ReportVM{ID: id, Node: vm.Node, Generation: vm.Generation, State: state, RestartSeq: vm.ReportedRestartSeq, At: time.Now().UTC()})
}

// action applies a user's action to a VM.
func (e *testEnv) action(id, action string) {
	e.t.Helper()
	e.must(&fsm.VMAction{ID: id, Action: action, At: time.Now().UTC()})
}

func (e *testEnv) vm(id string) fsm.VM {
	e.t.Helper()
	vm, err := e.fsm.VM(id)
	if err != nil {
		e.t.Fatalf("vm %s: %v", id, err)
	}
	return vm
}

func (e *testEnv) migration(id string) fsm.Migration {
	e.t.Helper()
	m, err := e.fsm.Migration(id)
	if err != nil {
		e.t.Fatalf("migration %s: %v", id, err)
	}
	return m
}

// domainState is a domain's state on d, or "absent".
func domainState(d *sim.Driver, id string) hypervisor.DomainState {
	dom, err := d.Inspect(context.Background(), id)
	if errors.Is(err, hypervisor.ErrNotFound) {
		return absent
	}
	if err != nil {
		return hypervisor.DomainState("error: " + err.Error())
	}
	return dom.State
}

// absent is how the tests name a domain the hypervisor does not have.
const absent hypervisor.DomainState = "absent"

// setDomain makes the VM's domain on d be in state, at generation gen (the
// VM's own when 0), as if it had got there behind the agent's back.
func (e *testEnv) setDomain(d *sim.Driver, vm fsm.VM, state hypervisor.DomainState, gen uint64) {
	e.t.Helper()
	ctx := context.Background()
	s := domainSpec(&vm)
	if gen != 0 {
		s.Generation = gen
	}
	if state == absent {
		return
	}
	if err := d.Start(ctx, s); err != nil {
		e.t.Fatalf("starting domain %s: %v", vm.ID, err)
	}
	var err error
	switch state {
	case hypervisor.StatePaused:
		err = d.Suspend(ctx, vm.ID)
	case hypervisor.StateCrashed:
		err = d.Crash(vm.ID)
	case hypervisor.StateStopped:
		err = d.Shutdown(ctx, vm.ID, time.Second) // the guest powered itself off
	}
	if err != nil {
		e.t.Fatalf("putting domain %s in state %s: %v", vm.ID, state, err)
	}
}

// waitFor polls cond often (the host's timings are tens of milliseconds) until
// it holds, and fails the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, what, cond)
}

// condf is nil when ok holds, and otherwise the error that says why not.
func condf(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// jsonString renders v for failure messages.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
