package host

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// startMigration records a migration of vmID to target, admitted by the leader
// (preparing).
func (e *testEnv) startMigration(id, vmID, mode, target string) {
	e.t.Helper()
	e.must(&fsm.CreateMigration{ID: id, VMID: vmID, Mode: mode, Target: target, Reason: "test", At: time.Now().UTC()})
	e.must(&fsm.UpdateMigration{ID: id, State: fsm.MigrationPreparing, At: time.Now().UTC()})
}

// targetReady records what the destination says once it prepared.
func (e *testEnv) targetReady(id string) {
	e.t.Helper()
	e.must(&fsm.UpdateMigration{ID: id, State: fsm.MigrationPreparing, TargetReady: true, At: time.Now().UTC()})
}

// waitMigration waits until migration id is in state.
func (e *testEnv) waitMigration(id string, state fsm.MigrationState) fsm.Migration {
	e.t.Helper()
	waitFor(e.t, "migration "+id+" to be "+string(state), func() error {
		m := e.migration(id)
		return condf(m.State == state, "migration is %s (%q)", m.State, m.Error)
	})
	return e.migration(id)
}

// As the destination, the host prepares once: ready when its hypervisor has
// the memory free and the VM's networks, failed with the reason otherwise.
func TestMigrator_DestinationPrepares(t *testing.T) {
	for _, c := range []struct {
		name     string
		memory   int64
		networks []string
		// used is the memory of a domain already running here.
		used      int64
		nic       string
		wantReady bool
		wantError string
	}{
		{name: "room and no network", wantReady: true},
		{name: "its network is active", networks: []string{"prod"}, nic: "prod", wantReady: true},
		{name: "too little memory", memory: 256, wantError: "MiB of memory free on the host, the guest needs 512"},
		{name: "memory taken by running guests", memory: 1024, used: 768, wantError: "256 MiB of memory free"},
		{name: "network not active", networks: []string{"default"}, nic: "prod", wantError: `network "prod" is not active on the host`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, envOptions{simMemoryMiB: c.memory, networks: c.networks})
			s := spec("web")
			if c.nic != "" {
				s.NICs = []fsm.NIC{{Network: c.nic}}
			}
			vm := e.createVM("vm-1", s, other)
			if c.used > 0 {
				filler := fsm.VM{ID: "filler", Spec: fsm.VMSpec{Name: "filler", VCPUs: 1, MemoryMiB: c.used}, Generation: 1}
				e.setDomain(e.driver, filler, hypervisor.StateRunning, 0)
			}
			e.startMigration("mig-1", vm.ID, fsm.MigrateCold, me)
			m := e.reconciler().migrator
			m.check(context.Background())
			got := e.migration("mig-1")
			if c.wantReady {
				if !got.TargetReady || got.State != fsm.MigrationPreparing {
					t.Fatalf("migration is %s, ready %v (%q), want ready", got.State, got.TargetReady, got.Error)
				}
			} else if got.TargetReady || got.State != fsm.MigrationFailed || !strings.Contains(got.Error, "destination not ready: ") || !strings.Contains(got.Error, c.wantError) {
				t.Fatalf("migration is %s, ready %v, error %q; want failed saying %q", got.State, got.TargetReady, got.Error, c.wantError)
			}
			mark := e.cluster.mark()
			m.check(context.Background())
			if cmds := e.cluster.since(t, mark); len(cmds) != 0 {
				t.Fatalf("a second check applied %s; the destination prepares once", jsonString(cmds))
			}
		})
	}
}

// As the source, the host runs the migration once the destination is ready
// and records its outcome: a cold one shuts the guest down, a live or warm one
// moves it to the destination at the next generation, one the destination
// cannot take fails with the guest still here.
func TestMigrator_SourceRunsTheMigration(t *testing.T) {
	for _, c := range []struct {
		name string
		mode string
		// domain is the guest's domain here before the migration.
		domain hypervisor.DomainState
		// otherMemory sizes the destination's hypervisor (default 16 GiB).
		otherMemory int64
		wantState   fsm.MigrationState
		// wantHere and wantThere are the domain's states on both hosts after.
		wantHere, wantThere hypervisor.DomainState
	}{
		{name: "cold, running", mode: fsm.MigrateCold, domain: hypervisor.StateRunning, wantState: fsm.MigrationCompleted, wantHere: hypervisor.StateStopped, wantThere: absent},
		{name: "cold, paused", mode: fsm.MigrateCold, domain: hypervisor.StatePaused, wantState: fsm.MigrationCompleted, wantHere: hypervisor.StateStopped, wantThere: absent},
		{name: "cold, stopped", mode: fsm.MigrateCold, domain: hypervisor.StateStopped, wantState: fsm.MigrationCompleted, wantHere: hypervisor.StateStopped, wantThere: absent},
		{name: "cold, absent", mode: fsm.MigrateCold, domain: absent, wantState: fsm.MigrationCompleted, wantHere: absent, wantThere: absent},
		{name: "live, running", mode: fsm.MigrateLive, domain: hypervisor.StateRunning, wantState: fsm.MigrationCompleted, wantHere: absent, wantThere: hypervisor.StateRunning},
		{name: "live, paused", mode: fsm.MigrateLive, domain: hypervisor.StatePaused, wantState: fsm.MigrationCompleted, wantHere: absent, wantThere: hypervisor.StatePaused},
		{name: "warm, running", mode: fsm.MigrateWarm, domain: hypervisor.StateRunning, wantState: fsm.MigrationCompleted, wantHere: absent, wantThere: hypervisor.StateRunning},
		{name: "live, destination too small", mode: fsm.MigrateLive, domain: hypervisor.StateRunning, otherMemory: 256,
			wantState: fsm.MigrationFailed, wantHere: hypervisor.StateRunning, wantThere: absent},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := envOptions{}
			o.otherSim.MemoryMiB = c.otherMemory
			e := newTestEnv(t, o)
			vm := e.createVM("vm-1", spec("web"), me)
			reported := fsm.VMRunning
			if c.domain == hypervisor.StatePaused {
				reported = fsm.VMPaused
			}
			e.report(vm.ID, reported)
			e.setDomain(e.driver, vm, c.domain, 0)
			e.startMigration("mig-1", vm.ID, c.mode, other)
			m := e.reconciler().migrator
			m.check(context.Background()) // the destination is not ready: nothing to do yet
			if got := e.migration("mig-1"); got.State != fsm.MigrationPreparing {
				t.Fatalf("the source acted before the destination was ready: migration is %s", got.State)
			}
			e.targetReady("mig-1")
			m.check(context.Background())
			got := e.waitMigration("mig-1", c.wantState)
			if here, there := domainState(e.driver, vm.ID), domainState(e.otherDriver, vm.ID); here != c.wantHere || there != c.wantThere {
				t.Fatalf("domain is %s here and %s there, want %s and %s", here, there, c.wantHere, c.wantThere)
			}
			after := e.vm(vm.ID)
			if after.Migration != "" {
				t.Fatalf("vm still migrating (%s) after the migration ended", after.Migration)
			}
			if c.wantState != fsm.MigrationCompleted {
				if got.Error == "" || after.Node != me || after.Generation != vm.Generation {
					t.Fatalf("failed migration: error %q, vm on %s at generation %d; want an error and the vm left here", got.Error, after.Node, after.Generation)
				}
				return
			}
			if got.Result == nil || got.Progress == nil || got.Progress.Percent != 100 {
				t.Fatalf("completed migration has result %s and progress %s", jsonString(got.Result), jsonString(got.Progress))
			}
			if after.Node != other || after.Generation != vm.Generation+1 {
				t.Fatalf("vm on %s at generation %d, want on %s at %d", after.Node, after.Generation, other, vm.Generation+1)
			}
			if c.wantThere != absent {
				if dom, err := e.otherDriver.Inspect(context.Background(), vm.ID); err != nil || dom.Generation != vm.Generation+1 {
					t.Fatalf("the destination's domain is at generation %d (%v), want %d", dom.Generation, err, vm.Generation+1)
				}
				if got.Result.DataTransferred == 0 {
					t.Fatal("a live or warm migration transferred nothing")
				}
			}
			// The source's next pass removes what is left of the guest here.
			e.grantLease()
			e.reconciler().reconcileOne(context.Background(), vm.ID)
			if st := domainState(e.driver, vm.ID); st != absent {
				t.Fatalf("after the move the source's domain is %s, want it removed", st)
			}
		})
	}
}

// A cancel of a running job aborts the copy: the guest keeps running here,
// the destination drops its half-received copy, the record says cancelled.
func TestMigrator_CancelAbortsARunningJob(t *testing.T) {
	e := newTestEnv(t, envOptions{migrateRateMiBps: 1}) // 512 MiB at 1 MiB/s: never done in time
	vm := e.createVM("vm-1", spec("web"), me)
	e.report(vm.ID, fsm.VMRunning)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.startMigration("mig-1", vm.ID, fsm.MigrateLive, other)
	e.targetReady("mig-1")
	m := e.reconciler().migrator
	m.check(context.Background())
	waitFor(t, "the copy to run and report progress", func() error {
		got := e.migration("mig-1")
		return condf(got.State == fsm.MigrationRunning && got.Progress != nil && got.Progress.Percent < 100 &&
			domainState(e.otherDriver, vm.ID) == hypervisor.StatePaused,
			"migration %s, progress %s, destination %s", got.State, jsonString(got.Progress), domainState(e.otherDriver, vm.ID))
	})
	m.check(context.Background()) // a running job is left to run
	if got := e.migration("mig-1"); got.State != fsm.MigrationRunning {
		t.Fatalf("a check of a running job changed it to %s", got.State)
	}
	e.must(&fsm.CancelMigration{ID: "mig-1", At: time.Now().UTC()})
	m.check(context.Background())
	got := e.waitMigration("mig-1", fsm.MigrationCancelled)
	if !strings.Contains(got.Error, "the guest still runs on the source") {
		t.Fatalf("cancelled migration says %q", got.Error)
	}
	if here, there := domainState(e.driver, vm.ID), domainState(e.otherDriver, vm.ID); here != hypervisor.StateRunning || there != absent {
		t.Fatalf("domain is %s here and %s there, want running here only", here, there)
	}
	if after := e.vm(vm.ID); after.Node != me || after.Generation != vm.Generation || after.Migration != "" {
		t.Fatalf("vm on %s at generation %d migrating %q, want it here, unchanged", after.Node, after.Generation, after.Migration)
	}
}

// The outcome is written until it lands: a write lost to a leader change is
// retried, because the record must end saying where the guest runs.
func TestMigrator_OutcomeIsRetriedUntilItLands(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	vm := e.createVM("vm-1", spec("web"), me)
	e.report(vm.ID, fsm.VMRunning)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.startMigration("mig-1", vm.ID, fsm.MigrateLive, other)
	e.targetReady("mig-1")
	var refused atomic.Int32
	e.cluster.set(func(c *fakeCluster) {
		c.refuse = func(cmd fsm.Command) error {
			if up, ok := cmd.(*fsm.UpdateMigration); ok && up.State == fsm.MigrationCompleted && refused.Load() < 2 {
				refused.Add(1)
				return errFake
			}
			return nil
		}
	})
	e.reconciler().migrator.check(context.Background())
	e.waitMigration("mig-1", fsm.MigrationCompleted)
	if n := refused.Load(); n != 2 {
		t.Fatalf("the outcome was refused %d times, want 2 before it landed", n)
	}
	if st := domainState(e.otherDriver, vm.ID); st != hypervisor.StateRunning {
		t.Fatalf("destination domain is %s", st)
	}
}

// runningMigration sets up a live migration of a VM from its node to target that
// the record says is running, with no job of this process behind it (the
// source agent restarted, or the source died).
func (e *testEnv) runningMigration(vm fsm.VM, target string) {
	e.t.Helper()
	e.report(vm.ID, fsm.VMRunning)
	e.startMigration("mig-1", vm.ID, fsm.MigrateLive, target)
	e.targetReady("mig-1")
	e.must(&fsm.UpdateMigration{ID: "mig-1", State: fsm.MigrationRunning, At: time.Now().UTC()})
}

// After an agent restart the source settles a running migration from both
// hypervisors: where the guest runs decides the outcome; while the
// destination still receives, or does not answer, it waits.
func TestMigrator_SourceSettlesAfterARestart(t *testing.T) {
	for _, c := range []struct {
		name string
		// here and there are the domain's states on this (source) host and
		// the destination; the destination's is at the next generation.
		here, there hypervisor.DomainState
		// closed: the destination's hypervisor is down.
		closed    bool
		wantState fsm.MigrationState
		wantError string
	}{
		{name: "arrived", here: absent, there: hypervisor.StateRunning, wantState: fsm.MigrationCompleted, wantError: "settled after an agent restart"},
		{name: "arrived, source copy stopped", here: hypervisor.StateStopped, there: hypervisor.StateRunning, wantState: fsm.MigrationCompleted},
		{name: "never left", here: hypervisor.StateRunning, there: absent, wantState: fsm.MigrationFailed, wantError: "still runs on the source"},
		{name: "gone from both", here: absent, there: absent, wantState: fsm.MigrationFailed, wantError: "runs on neither host"},
		{name: "still receiving", here: hypervisor.StateRunning, there: hypervisor.StatePaused, wantState: fsm.MigrationRunning},
		{name: "destination down", here: hypervisor.StateRunning, closed: true, wantState: fsm.MigrationRunning},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, envOptions{})
			vm := e.createVM("vm-1", spec("web"), me)
			e.runningMigration(vm, other)
			e.setDomain(e.driver, vm, c.here, 0)
			if c.there != absent {
				e.setDomain(e.otherDriver, vm, c.there, vm.Generation+1)
			}
			if c.closed {
				e.otherDriver.Close()
			}
			e.reconciler().migrator.check(context.Background())
			got := e.migration("mig-1")
			if got.State != c.wantState || !strings.Contains(got.Error, c.wantError) {
				t.Fatalf("migration is %s (%q), want %s saying %q", got.State, got.Error, c.wantState, c.wantError)
			}
		})
	}
}

// The destination settles the migration of an HA VM whose source has been
// failed for a whole fence timeout: the guest running here at the new
// generation completes it; anything else fails it (dropping a half-received
// guest) so the VM fails over. A non-HA VM, or a source failed only just now,
// is left alone.
func TestMigrator_DestinationSettlesForADeadSource(t *testing.T) {
	for _, c := range []struct {
		name      string
		notHA     bool
		failedFor time.Duration
		here      hypervisor.DomainState
		wantState fsm.MigrationState
		wantHere  hypervisor.DomainState
	}{
		{name: "arrived", failedFor: time.Minute, here: hypervisor.StateRunning, wantState: fsm.MigrationCompleted, wantHere: hypervisor.StateRunning},
		{name: "half received", failedFor: time.Minute, here: hypervisor.StatePaused, wantState: fsm.MigrationFailed, wantHere: absent},
		{name: "nothing received", failedFor: time.Minute, here: absent, wantState: fsm.MigrationFailed, wantHere: absent},
		{name: "not HA", notHA: true, failedFor: time.Minute, here: hypervisor.StatePaused, wantState: fsm.MigrationRunning, wantHere: hypervisor.StatePaused},
		{name: "source failed just now", failedFor: 0, here: hypervisor.StatePaused, wantState: fsm.MigrationRunning, wantHere: hypervisor.StatePaused},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, envOptions{})
			s := spec("web")
			if c.notHA {
				s.HA = &fsm.HASpec{Disabled: true}
			}
			vm := e.createVM("vm-1", s, other)
			e.runningMigration(vm, me)
			e.setDomain(e.driver, vm, c.here, vm.Generation+1)
			e.must(&fsm.SetNodeStatus{ID: other, Status: fsm.NodeFailed, Cause: "test", At: time.Now().Add(-c.failedFor).UTC()})
			e.reconciler().migrator.check(context.Background())
			if got := e.migration("mig-1"); got.State != c.wantState {
				t.Fatalf("migration is %s (%q), want %s", got.State, got.Error, c.wantState)
			}
			if st := domainState(e.driver, vm.ID); st != c.wantHere {
				t.Fatalf("domain here is %s, want %s", st, c.wantHere)
			}
		})
	}
}
