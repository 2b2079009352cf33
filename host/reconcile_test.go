package host

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// reconcileCase is one VM record against one domain, and what one reconciler
// pass must do about it.
type reconcileCase struct {
	name string
	// desired is the VM's desired state; reported what the host reported
	// before (scheduled: nothing yet); policy its restart policy.
	desired, reported fsm.VMState
	policy            string
	domain            hypervisor.DomainState
	// wantDomain is the domain's state after the pass; wantReport the state
	// reported ("" for no report), with wantCrash; wantDesired the VM's
	// desired state afterwards (a policy that does not restart makes it
	// stopped).
	wantDomain  hypervisor.DomainState
	wantReport  fsm.VMState
	wantCrash   string
	wantDesired fsm.VMState
	// shutdown: the pass only starts a shutdown in the background and reports
	// nothing; the pass its end wakes reports wantReport.
	shutdown bool
}

// runReconcileCase sets the case up on a host holding its lease, runs one
// reconciler pass for the VM as the run loop does, and checks the domain, the
// report and the record.
func runReconcileCase(t *testing.T, c reconcileCase) {
	e := newTestEnv(t, envOptions{})
	e.grantLease()
	ctx := context.Background()
	s := spec("web")
	s.RestartPolicy = c.policy
	vm := e.createVM("vm-1", s, me)
	if c.reported != fsm.VMScheduled {
		e.report(vm.ID, c.reported)
	}
	switch c.desired {
	case fsm.VMStopped:
		e.action(vm.ID, fsm.ActionStop)
	case fsm.VMPaused:
		e.action(vm.ID, fsm.ActionPause)
	}
	e.setDomain(e.driver, e.vm(vm.ID), c.domain, 0)
	r := e.reconciler()
	mark := e.cluster.mark()

	rep := r.reconcileOne(ctx, vm.ID)
	if c.shutdown {
		if rep != nil {
			t.Fatalf("a pass that starts a shutdown reported %s", jsonString(rep))
		}
		select {
		case id := <-r.stopped:
			if id != vm.ID {
				t.Fatalf("shutdown of %s ended, want %s", id, vm.ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the background shutdown did not end")
		}
		rep = r.reconcileOne(ctx, vm.ID)
	}
	if rep != nil {
		r.report(ctx, []*fsm.ReportVM{rep})
	}

	if got := domainState(e.driver, vm.ID); got != c.wantDomain {
		t.Errorf("domain is %s, want %s", got, c.wantDomain)
	}
	reports := e.cluster.reportsSince(t, mark)
	switch {
	case c.wantReport == "" && len(reports) > 0:
		t.Errorf("reported %s, want no report", jsonString(reports))
	case c.wantReport != "" && len(reports) != 1:
		t.Errorf("reported %s, want one report of %s", jsonString(reports), c.wantReport)
	case c.wantReport != "":
		r := reports[0]
		if r.State != c.wantReport || r.Crash != c.wantCrash || r.Node != me || r.Generation != vm.Generation {
			t.Errorf("reported %s, want state %s crash %q from %s at generation %d", jsonString(r), c.wantReport, c.wantCrash, me, vm.Generation)
		}
	}
	after := e.vm(vm.ID)
	if c.wantReport != "" && after.State != c.wantReport {
		t.Errorf("record's state is %s, want %s", after.State, c.wantReport)
	}
	wantCrashes := uint64(0)
	if c.wantCrash != "" {
		wantCrashes = 1
	}
	if after.Crashes != wantCrashes || after.LastCrash != c.wantCrash {
		t.Errorf("record has %d crashes (last %q), want %d (%q)", after.Crashes, after.LastCrash, wantCrashes, c.wantCrash)
	}
	wantDesired := c.wantDesired
	if wantDesired == "" {
		wantDesired = c.desired
	}
	if after.DesiredState != wantDesired {
		t.Errorf("desired state is %s, want %s", after.DesiredState, wantDesired)
	}
}

func TestReconcile_DesiredStateAgainstDomain(t *testing.T) {
	const (
		running, paused, stopped, crashed = hypervisor.StateRunning, hypervisor.StatePaused, hypervisor.StateStopped, hypervisor.StateCrashed
		scheduled                         = fsm.VMScheduled
	)
	for _, c := range []reconcileCase{
		{name: "running/absent starts it", desired: fsm.VMRunning, reported: scheduled, domain: absent, wantDomain: running, wantReport: fsm.VMRunning},
		{name: "running/running reports it", desired: fsm.VMRunning, reported: scheduled, domain: running, wantDomain: running, wantReport: fsm.VMRunning},
		{name: "running/running already reported does nothing", desired: fsm.VMRunning, reported: fsm.VMRunning, domain: running, wantDomain: running},
		{name: "running/paused resumes it", desired: fsm.VMRunning, reported: scheduled, domain: paused, wantDomain: running, wantReport: fsm.VMRunning},
		{name: "running/crashed before any report starts it, no crash", desired: fsm.VMRunning, reported: scheduled, domain: crashed, wantDomain: running, wantReport: fsm.VMRunning},
		{name: "running/stopped before any report starts it", desired: fsm.VMRunning, reported: scheduled, domain: stopped, wantDomain: running, wantReport: fsm.VMRunning},
		{name: "stopped/absent reports stopped", desired: fsm.VMStopped, reported: scheduled, domain: absent, wantDomain: absent, wantReport: fsm.VMStopped},
		{name: "stopped/running shuts it down", desired: fsm.VMStopped, reported: fsm.VMRunning, domain: running, wantDomain: stopped, wantReport: fsm.VMStopped, shutdown: true},
		{name: "stopped/paused shuts it down", desired: fsm.VMStopped, reported: fsm.VMPaused, domain: paused, wantDomain: stopped, wantReport: fsm.VMStopped, shutdown: true},
		{name: "stopped/crashed reports stopped and leaves it", desired: fsm.VMStopped, reported: fsm.VMRunning, domain: crashed, wantDomain: crashed, wantReport: fsm.VMStopped},
		{name: "stopped/stopped already reported does nothing", desired: fsm.VMStopped, reported: fsm.VMStopped, domain: stopped, wantDomain: stopped},
		{name: "paused/absent starts it paused", desired: fsm.VMPaused, reported: scheduled, domain: absent, wantDomain: paused, wantReport: fsm.VMPaused},
		{name: "paused/running suspends it", desired: fsm.VMPaused, reported: fsm.VMRunning, domain: running, wantDomain: paused, wantReport: fsm.VMPaused},
		{name: "paused/paused already reported does nothing", desired: fsm.VMPaused, reported: fsm.VMPaused, domain: paused, wantDomain: paused},
		{name: "paused/crashed before any report starts it paused", desired: fsm.VMPaused, reported: scheduled, domain: crashed, wantDomain: paused, wantReport: fsm.VMPaused},
		{name: "paused/stopped before any report starts it paused", desired: fsm.VMPaused, reported: scheduled, domain: stopped, wantDomain: paused, wantReport: fsm.VMPaused},
	} {
		t.Run(c.name, func(t *testing.T) { runReconcileCase(t, c) })
	}
}

// A guest that was reported up and is found down without having been asked:
// the restart policy decides, and a crash (or a vanished domain) is recorded.
// A guest that powered itself off is no crash: on-failure leaves it off.
func TestReconcile_GuestDiedUnasked_RestartPolicy(t *testing.T) {
	const running, stopped, crashed = hypervisor.StateRunning, hypervisor.StateStopped, hypervisor.StateCrashed
	up := fsm.VMRunning
	for _, c := range []reconcileCase{
		{name: "crashed/always restarts", policy: fsm.RestartAlways, domain: crashed, wantDomain: running, wantReport: fsm.VMRunning, wantCrash: "crashed"},
		{name: "crashed/default policy restarts", policy: "", domain: crashed, wantDomain: running, wantReport: fsm.VMRunning, wantCrash: "crashed"},
		{name: "crashed/on-failure restarts", policy: fsm.RestartOnFailure, domain: crashed, wantDomain: running, wantReport: fsm.VMRunning, wantCrash: "crashed"},
		{name: "crashed/never keeps it stopped", policy: fsm.RestartNever, domain: crashed, wantDomain: crashed, wantReport: fsm.VMStopped, wantCrash: "crashed", wantDesired: fsm.VMStopped},
		// Restarted to what the record already says, without a crash: nothing to report.
		{name: "powered off/always restarts", policy: fsm.RestartAlways, domain: stopped, wantDomain: running},
		{name: "powered off/on-failure keeps it stopped", policy: fsm.RestartOnFailure, domain: stopped, wantDomain: stopped, wantReport: fsm.VMStopped, wantDesired: fsm.VMStopped},
		{name: "powered off/never keeps it stopped", policy: fsm.RestartNever, domain: stopped, wantDomain: stopped, wantReport: fsm.VMStopped, wantDesired: fsm.VMStopped},
		{name: "vanished/always restarts", policy: fsm.RestartAlways, domain: absent, wantDomain: running, wantReport: fsm.VMRunning, wantCrash: "vanished"},
		{name: "vanished/on-failure restarts", policy: fsm.RestartOnFailure, domain: absent, wantDomain: running, wantReport: fsm.VMRunning, wantCrash: "vanished"},
		{name: "vanished/never keeps it stopped", policy: fsm.RestartNever, domain: absent, wantDomain: absent, wantReport: fsm.VMStopped, wantCrash: "vanished", wantDesired: fsm.VMStopped},
	} {
		c.desired, c.reported = fsm.VMRunning, up
		t.Run(c.name, func(t *testing.T) { runReconcileCase(t, c) })
	}
	t.Run("paused guest crashed/always restarts it paused", func(t *testing.T) {
		runReconcileCase(t, reconcileCase{desired: fsm.VMPaused, reported: fsm.VMPaused, policy: fsm.RestartAlways,
			domain: crashed, wantDomain: hypervisor.StatePaused, wantReport: fsm.VMPaused, wantCrash: "crashed"})
	})
}

func TestReconcile_RestartRequestRebootsAndIsReported(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.grantLease()
	vm := e.createVM("vm-1", spec("web"), me)
	e.report(vm.ID, fsm.VMRunning)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.action(vm.ID, fsm.ActionRestart)
	for len(e.driver.Events()) > 0 {
		<-e.driver.Events() // the setup's own events
	}
	r := e.reconciler()
	rep := r.reconcileOne(context.Background(), vm.ID)
	if rep == nil || rep.RestartSeq != 1 || rep.State != fsm.VMRunning {
		t.Fatalf("reported %s, want running with restart seq 1", jsonString(rep))
	}
	r.report(context.Background(), []*fsm.ReportVM{rep})
	if got := e.vm(vm.ID); got.ReportedRestartSeq != 1 {
		t.Fatalf("record's reported restart seq is %d, want 1", got.ReportedRestartSeq)
	}
	select {
	case ev := <-e.driver.Events():
		if ev.Reason != "rebooted" {
			t.Fatalf("driver event %+v, want a reboot", ev)
		}
	default:
		t.Fatal("the domain was not rebooted")
	}
	if rep := r.reconcileOne(context.Background(), vm.ID); rep != nil {
		t.Fatalf("a carried-out restart was done again: %s", jsonString(rep))
	}
}

func TestReconcile_FailedStartIsReportedAsError(t *testing.T) {
	e := newTestEnv(t, envOptions{simMemoryMiB: 256}) // the FSM thinks it fits; the host has less
	e.grantLease()
	vm := e.createVM("vm-1", spec("web"), me)
	r := e.reconciler()
	rep := r.reconcileOne(context.Background(), vm.ID)
	if rep == nil {
		t.Fatal("a failed start was not reported")
	}
	r.report(context.Background(), []*fsm.ReportVM{rep})
	got := e.vm(vm.ID)
	if got.State != fsm.VMError || !strings.Contains(got.Error, "insufficient host resources") {
		t.Fatalf("record is %s (%q), want error naming the missing resources", got.State, got.Error)
	}
	if st := domainState(e.driver, vm.ID); st != absent {
		t.Fatalf("domain is %s after a failed start", st)
	}
}

// A domain that no VM record on this node accounts for is destroyed and
// undefined, whichever pass finds it; for a deleted VM the host then confirms
// the domain gone, which ends the VM's removal.
func TestReconcile_DomainOfAVMNotHereIsRemoved(t *testing.T) {
	for _, c := range []struct {
		name   string
		domain hypervisor.DomainState
		// deleted: the VM record is gone; otherwise it was placed on the other node.
		deleted bool
	}{
		{name: "placed elsewhere, running", domain: hypervisor.StateRunning},
		{name: "placed elsewhere, paused", domain: hypervisor.StatePaused},
		{name: "placed elsewhere, stopped", domain: hypervisor.StateStopped},
		{name: "deleted, running", domain: hypervisor.StateRunning, deleted: true},
		{name: "deleted, crashed", domain: hypervisor.StateCrashed, deleted: true},
	} {
		for _, pass := range []string{"one", "all"} {
			t.Run(c.name+"/"+pass, func(t *testing.T) {
				e := newTestEnv(t, envOptions{})
				e.grantLease()
				vm := e.createVM("vm-1", spec("web"), me)
				e.setDomain(e.driver, vm, c.domain, 0)
				if c.deleted {
					e.must(&fsm.DeleteVM{ID: vm.ID})
				} else {
					e.must(&fsm.PlaceVM{ID: vm.ID, Node: other, FromGeneration: vm.Generation, Reason: "test", At: time.Now().UTC()})
				}
				r := e.reconciler()
				mark := e.cluster.mark()
				if pass == "one" {
					if rep := r.reconcileOne(context.Background(), vm.ID); rep != nil {
						t.Fatalf("reported %s for a VM that is not here", jsonString(rep))
					}
					r.confirmRemovals(context.Background()) // as handleEvent does after
				} else {
					r.reconcileAll(context.Background())
				}
				if st := domainState(e.driver, vm.ID); st != absent {
					t.Fatalf("domain is %s, want it removed", st)
				}
				got := e.cluster.since(t, mark)
				if !c.deleted {
					if len(got) != 0 {
						t.Fatalf("applied %s, want nothing", jsonString(got))
					}
					return
				}
				if want := `[{"node":"n1","vm_ids":["` + vm.ID + `"]}]`; jsonString(got) != want {
					t.Fatalf("applied %s, want the confirmation %s", jsonString(got), want)
				}
				if r, ok := e.fsm.Removal(vm.ID); ok {
					t.Fatalf("removal %+v stayed after its host confirmed it", r)
				}
			})
		}
	}
}

// A domain made by an order newer than the local state knows is left alone,
// here or placed elsewhere: the state is behind, not the domain.
func TestReconcile_DomainFromANewerGenerationIsLeftAlone(t *testing.T) {
	for _, c := range []struct {
		name    string
		desired fsm.VMState
		movedTo string
	}{
		{name: "here, desired stopped", desired: fsm.VMStopped},
		{name: "here, desired paused", desired: fsm.VMPaused},
		{name: "placed elsewhere", desired: fsm.VMRunning, movedTo: other},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, envOptions{})
			e.grantLease()
			vm := e.createVM("vm-1", spec("web"), me)
			switch c.desired {
			case fsm.VMStopped:
				e.action(vm.ID, fsm.ActionStop)
			case fsm.VMPaused:
				e.action(vm.ID, fsm.ActionPause)
			}
			if c.movedTo != "" {
				e.must(&fsm.PlaceVM{ID: vm.ID, Node: c.movedTo, FromGeneration: vm.Generation, Reason: "test", At: time.Now().UTC()})
			}
			vm = e.vm(vm.ID)
			e.setDomain(e.driver, vm, hypervisor.StateRunning, vm.Generation+1)
			r := e.reconciler()
			mark := e.cluster.mark()
			if rep := r.reconcileOne(context.Background(), vm.ID); rep != nil {
				t.Fatalf("reported %s", jsonString(rep))
			}
			r.reconcileAll(context.Background())
			if st := domainState(e.driver, vm.ID); st != hypervisor.StateRunning || r.isStopping(vm.ID) {
				t.Fatalf("domain is %s (stopping %v), want it left running", st, r.isStopping(vm.ID))
			}
			if got := e.cluster.since(t, mark); len(got) != 0 {
				t.Fatalf("applied %s, want nothing", jsonString(got))
			}
		})
	}
}

// Without a lease the host starts nothing, restarts nothing, reports nothing;
// regaining it lets the next pass act.
func TestReconcile_WithoutALeaseNothingIsStarted(t *testing.T) {
	for _, c := range []struct {
		name  string
		lease func(l *hostLease)
		// crashed: the VM was reported running and its domain crashed.
		crashed bool
	}{
		{name: "never renewed", lease: func(*hostLease) {}},
		{name: "ran out", lease: func(l *hostLease) { l.renewed(time.Now().Add(-time.Millisecond)) }},
		{name: "fenced", lease: func(l *hostLease) { l.renewed(time.Now().Add(time.Hour)); l.beginFence() }},
		{name: "fenced, crashed guest", crashed: true, lease: func(l *hostLease) { l.renewed(time.Now().Add(time.Hour)); l.beginFence() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, envOptions{})
			vm := e.createVM("vm-1", spec("web"), me)
			want := absent
			if c.crashed {
				e.report(vm.ID, fsm.VMRunning)
				e.setDomain(e.driver, vm, hypervisor.StateCrashed, 0)
				want = hypervisor.StateCrashed
			}
			c.lease(e.host.lease)
			r := e.reconciler()
			mark := e.cluster.mark()
			if rep := r.reconcileOne(context.Background(), vm.ID); rep != nil {
				t.Fatalf("reported %s without a lease", jsonString(rep))
			}
			r.reconcileAll(context.Background())
			if st := domainState(e.driver, vm.ID); st != want {
				t.Fatalf("domain is %s without a lease, want %s", st, want)
			}
			if got := e.cluster.since(t, mark); len(got) != 0 {
				t.Fatalf("applied %s without a lease", jsonString(got))
			}
			e.grantLease()
			if rep := r.reconcileOne(context.Background(), vm.ID); rep == nil || rep.State != fsm.VMRunning {
				t.Fatalf("with the lease back, reported %s, want running", jsonString(rep))
			}
			if st := domainState(e.driver, vm.ID); st != hypervisor.StateRunning {
				t.Fatalf("with the lease back, domain is %s", st)
			}
		})
	}
}

// A migration owns the VM's domain: the host neither starts, restarts nor
// reports it until the migration ends.
func TestReconcile_MigratingVMIsLeftAlone(t *testing.T) {
	for _, dom := range []hypervisor.DomainState{absent, hypervisor.StateCrashed, hypervisor.StatePaused} {
		t.Run(string(dom), func(t *testing.T) {
			e := newTestEnv(t, envOptions{})
			e.grantLease()
			vm := e.createVM("vm-1", spec("web"), me)
			e.report(vm.ID, fsm.VMRunning)
			e.setDomain(e.driver, vm, dom, 0)
			e.must(&fsm.CreateMigration{ID: "mig-1", VMID: vm.ID, Mode: fsm.MigrateCold, Target: other, Reason: "test", At: time.Now().UTC()})
			r := e.reconciler()
			mark := e.cluster.mark()
			if rep := r.reconcileOne(context.Background(), vm.ID); rep != nil {
				t.Fatalf("reported %s for a migrating VM", jsonString(rep))
			}
			r.reconcileAll(context.Background())
			if st := domainState(e.driver, vm.ID); st != dom {
				t.Fatalf("domain is %s, want it left %s", st, dom)
			}
			if got := e.cluster.since(t, mark); len(got) != 0 {
				t.Fatalf("applied %s for a migrating VM", jsonString(got))
			}
		})
	}
}

// One pass over several VMs sends their reports as one batch; a report that
// did not land (no leader) is sent again by the next pass.
func TestReconcile_ReportsGoInOneBatchAndARefusedOneIsResent(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.grantLease()
	ids := []string{"vm-1", "vm-2", "vm-3"}
	for i, id := range ids {
		e.createVM(id, spec("web-"+string(rune('a'+i))), me)
	}
	r := e.reconciler()
	e.cluster.set(func(c *fakeCluster) { c.applyErr = errFake })
	r.reconcileAll(context.Background())
	for _, id := range ids {
		if st := domainState(e.driver, id); st != hypervisor.StateRunning {
			t.Fatalf("domain %s is %s, want running", id, st)
		}
		if got := e.vm(id).State; got != fsm.VMScheduled {
			t.Fatalf("vm %s is %s although no report landed", id, got)
		}
	}
	e.cluster.set(func(c *fakeCluster) { c.applyErr = nil })
	mark := e.cluster.mark()
	r.reconcileAll(context.Background())
	cmds := e.cluster.since(t, mark)
	if e.cluster.mark()-mark != 1 || len(cmds) != len(ids) {
		t.Fatalf("applied %d entries holding %s, want one batch of %d reports", e.cluster.mark()-mark, jsonString(cmds), len(ids))
	}
	for _, id := range ids {
		if got := e.vm(id).State; got != fsm.VMRunning {
			t.Fatalf("vm %s is %s, want running", id, got)
		}
	}
}

// The running host: it starts what is assigned to it, restarts a guest that
// crashes and records the crash, shuts down what is stopped, and removes what
// is deleted, driven by state and driver events.
func TestHost_RunsItsVMsThroughTheirLife(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.host.Start()
	vm := e.createVM("vm-1", spec("web"), me)
	waitFor(t, "the vm to run", func() error {
		got := e.vm(vm.ID)
		return condf(got.State == fsm.VMRunning && domainState(e.driver, vm.ID) == hypervisor.StateRunning,
			"record %s, domain %s", got.State, domainState(e.driver, vm.ID))
	})
	if err := e.driver.Crash(vm.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the crashed vm to be restarted and its crash recorded", func() error {
		got := e.vm(vm.ID)
		return condf(got.Crashes == 1 && got.LastCrash == "crashed" && got.State == fsm.VMRunning && domainState(e.driver, vm.ID) == hypervisor.StateRunning,
			"record %s with %d crashes, domain %s", got.State, got.Crashes, domainState(e.driver, vm.ID))
	})
	e.action(vm.ID, fsm.ActionStop)
	waitFor(t, "the vm to stop", func() error {
		got := e.vm(vm.ID)
		return condf(got.State == fsm.VMStopped && domainState(e.driver, vm.ID) == hypervisor.StateStopped,
			"record %s, domain %s", got.State, domainState(e.driver, vm.ID))
	})
	e.must(&fsm.DeleteVM{ID: vm.ID})
	waitFor(t, "the deleted vm's domain to go", func() error {
		return condf(domainState(e.driver, vm.ID) == absent, "domain %s", domainState(e.driver, vm.ID))
	})
}

// VMs assigned one after another, each by its own entry, are started at once
// but reported together: the first report goes out at once, those that
// follow within reportGather wait and go out as one entry, not one each.
func TestHost_ReportsOfABurstShareOneEntry(t *testing.T) {
	// A long gather, so the burst fits in it however slow the machine; no
	// periodic full pass meanwhile.
	e := newTestEnv(t, envOptions{reportGather: 2 * time.Second, resync: time.Hour})
	e.host.Start()
	waitFor(t, "the host to hold its lease", func() error { return condf(e.host.LeaseValid(), "no lease") })
	mark := e.cluster.mark()
	ids := []string{"vm-1", "vm-2", "vm-3", "vm-4"}
	for i, id := range ids {
		// Each waits until the previous one's domain runs: one event-driven
		// pass each.
		e.createVM(id, spec("web-"+string(rune('a'+i))), me)
		waitFor(t, "the domain started", func() error {
			return condf(domainState(e.driver, id) == hypervisor.StateRunning, "domain %s", domainState(e.driver, id))
		})
	}
	waitFor(t, "every vm running in the record", func() error {
		for _, id := range ids {
			if got := e.vm(id).State; got != fsm.VMRunning {
				return condf(false, "vm %s is %s", id, got)
			}
		}
		return nil
	})
	var entries int
	for _, cmd := range e.cluster.appliedSince(mark) {
		switch c := cmd.(type) {
		case *fsm.ReportVM:
			entries++
		case *fsm.Batch:
			if c.Entries[0].Type == fsm.CmdReportVM {
				entries++
			}
		}
	}
	if entries != 2 {
		t.Fatalf("the %d vms' reports took %d entries, want 2 (the first at once, the rest together)", len(ids), entries)
	}
}

// A report after a quiet spell is not held: with a gather of an hour, a lone
// VM's start still reaches the state.
func TestHost_ALoneReportGoesAtOnce(t *testing.T) {
	e := newTestEnv(t, envOptions{reportGather: time.Hour, resync: time.Hour})
	e.host.Start()
	waitFor(t, "the host to hold its lease", func() error { return condf(e.host.LeaseValid(), "no lease") })
	e.createVM("vm-1", spec("web-a"), me)
	waitFor(t, "the lone vm running in the record", func() error {
		got := e.vm("vm-1").State
		return condf(got == fsm.VMRunning, "vm is %s", got)
	})
}
