package host

import (
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

// The host sends its VMs' load: each active domain's memory, and its CPU rate
// since the previous report (none in the first: there is nothing to compare
// with). A sim guest keeps 5% of each vCPU busy while it runs.
func TestLoad_ReportCarriesEachVMsMemoryAndCPURate(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	doms := []struct {
		id    string
		vcpus int
		mem   int64
		state hypervisor.DomainState
		// cores is the CPU rate the reports must show after the first.
		cores float64
	}{
		{id: "busy", vcpus: 4, mem: 1024, state: hypervisor.StateRunning, cores: 4 * 0.05},
		{id: "small", vcpus: 1, mem: 256, state: hypervisor.StateRunning, cores: 0.05},
		{id: "paused", vcpus: 2, mem: 512, state: hypervisor.StatePaused, cores: 0},
		{id: "off", vcpus: 2, mem: 512, state: hypervisor.StateStopped},
	}
	for _, d := range doms {
		vm := fsm.VM{ID: d.id, Spec: fsm.VMSpec{Name: d.id, VCPUs: d.vcpus, MemoryMiB: d.mem}, Generation: 1}
		e.setDomain(e.driver, vm, d.state, 0)
	}
	e.host.goLoop(e.host.loadReportLoop)
	waitFor(t, "four load reports", func() error { return condf(len(e.loads.all()) >= 4, "%d reports", len(e.loads.all())) })

	for i, r := range e.loads.all() {
		if r.Node != me {
			t.Fatalf("report %d is from %q, want %q", i, r.Node, me)
		}
		if len(r.VMs) != 3 {
			t.Fatalf("report %d holds %s, want the three active domains", i, jsonString(r.VMs))
		}
		for _, d := range doms {
			l, ok := r.VMs[d.id]
			if d.state == hypervisor.StateStopped {
				if ok {
					t.Fatalf("report %d holds stopped domain %s", i, d.id)
				}
				continue
			}
			if l.MemoryMiB != d.mem {
				t.Fatalf("report %d: %s uses %d MiB, want %d", i, d.id, l.MemoryMiB, d.mem)
			}
			want := d.cores
			if i == 0 {
				want = 0
			}
			// The rate divides sim CPU time by the host's wall clock between two
			// reads; scheduling makes them differ a little.
			if l.CPUCores < want*0.5 || l.CPUCores > want*1.5 {
				t.Fatalf("report %d: %s uses %.3f cores, want about %.3f", i, d.id, l.CPUCores, want)
			}
		}
	}
}

// A host whose counters cannot be read sends nothing, rather than a report
// that would make it look idle.
func TestLoad_UnreadableCountersSendNothing(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	vm := fsm.VM{ID: "busy", Spec: spec("busy"), Generation: 1}
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.driver.Close() // every call now fails
	e.host.goLoop(e.host.loadReportLoop)
	testutil.HoldsFor(t, 5*e.host.cfg.LoadReportInterval, 5*time.Millisecond, "silence", func() error {
		return condf(len(e.loads.all()) == 0, "sent %s", jsonString(e.loads.all()))
	})
}
