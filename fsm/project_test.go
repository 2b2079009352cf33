package fsm

import (
	"strings"
	"testing"
)

// Every state has the default project; a VM created without a project goes
// there, and names are unique within a project, not across them.
func TestProjects_DefaultAndNamesPerProject(t *testing.T) {
	f := newTestFSM(t)
	if _, _, err := f.Project(DefaultProject); err != nil {
		t.Fatalf("no default project in a new state: %v", err)
	}
	f.addNode("n1", "node-1", 8192, 8)
	f.must(CreateProject{Project: Project{Name: "prod", CreatedAt: t0}})
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("web", 256, 1), Project: "prod", At: t0})
	err := f.refuse(CreateVM{ID: "vm-3", Spec: testSpec("web", 256, 1), Project: "prod", At: t0}, ErrConflict)
	if !strings.Contains(err.Error(), `project "prod"`) {
		t.Errorf("the refusal does not name the project: %v", err)
	}
	f.refuse(CreateVM{ID: "vm-4", Spec: testSpec("db", 256, 1), Project: "nope", At: t0}, ErrNotFound)

	if vm, err := f.VMByName("", "web"); err != nil || vm.ID != "vm-1" || vm.Project != DefaultProject {
		t.Fatalf("web in default = %+v, %v", vm, err)
	}
	if vm, err := f.VMByName("prod", "web"); err != nil || vm.ID != "vm-2" {
		t.Fatalf("web in prod = %+v, %v", vm, err)
	}
	if page := f.VMPage(VMPageQuery{Project: "prod", Max: 10}); len(page) != 1 || page[0].ID != "vm-2" {
		t.Fatalf("prod's page = %+v", page)
	}
	if page := f.VMPage(VMPageQuery{Max: 10}); len(page) != 2 || page[0].ID != "vm-1" || page[1].ID != "vm-2" {
		t.Fatalf("every project's page = %+v, want default's web then prod's", page)
	}
	if page := f.VMPage(VMPageQuery{AfterProject: DefaultProject, AfterName: "web", Max: 10}); len(page) != 1 || page[0].ID != "vm-2" {
		t.Fatalf("page after default/web = %+v", page)
	}

	f.refuse(DeleteProject{Name: "prod"}, ErrState)
	f.refuse(DeleteProject{Name: DefaultProject}, ErrState)
	f.must(DeleteVM{ID: "vm-2", At: t0})
	f.must(DeleteProject{Name: "prod"})
	f.refuse(CreateProject{Project: Project{Name: "bad/name"}}, ErrInvalid)
	f.refuse(CreateProject{Project: Project{Name: DefaultProject}}, ErrConflict)
}

// A quota bounds creates and growth, names the limit passed, what the
// request asks and what is left; shrinking is always allowed, and a quota
// lowered below the usage only stops growth.
func TestProjects_QuotaBoundsCreatesAndGrowth(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1<<20, 256)
	f.must(CreateProject{Project: Project{Name: "prod", Quota: Quota{VCPUs: ptr(int64(8)), VMs: ptr(int64(3))}}})
	for i := range 3 {
		f.must(CreateVM{ID: numbered("vm", i), Spec: testSpec(numbered("web", i), 256, 2), Project: "prod", At: t0})
	}
	err := f.refuse(CreateVM{ID: "vm-x", Spec: testSpec("web-x", 256, 1), Project: "prod", At: t0}, ErrQuota)
	if want := "vms: the request asks 1, 0 of 3 is left"; !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q does not say %q", err, want)
	}
	_, used, _ := f.Project("prod")
	if used != (Usage{VCPUs: 6, MemoryMiB: 768, DiskGiB: 30, VMs: 3}) {
		t.Fatalf("usage %+v", used)
	}

	grow := testSpec("web-0", 256, 5) // 6 + 3 more vCPUs: 9 of 8
	err = f.refuse(UpdateVM{ID: "vm-0", Spec: grow, At: t0}, ErrQuota)
	if want := "vcpus: the request asks 3, 2 of 8 is left"; !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q does not say %q", err, want)
	}
	f.must(UpdateVM{ID: "vm-0", Spec: testSpec("web-0", 256, 4), At: t0}) // 8 of 8
	f.must(UpdateProject{Name: "prod", Quota: Quota{VCPUs: ptr(int64(4))}, At: t0})
	f.must(UpdateVM{ID: "vm-0", Spec: testSpec("web-0", 256, 3), At: t0}) // shrinking, though over
	f.refuse(UpdateVM{ID: "vm-1", Spec: testSpec("web-1", 256, 3), At: t0}, ErrQuota)
	f.must(DeleteVM{ID: "vm-2", At: t0})
	if _, used, _ := f.Project("prod"); used.VMs != 2 || used.VCPUs != 5 {
		t.Fatalf("usage after a delete %+v", used)
	}
	// The default project has no quota.
	f.must(CreateVM{ID: "vm-d", Spec: testSpec("big", 1024, 64), At: t0})
	f.refuse(UpdateProject{Name: "prod", Quota: Quota{VMs: ptr(int64(-1))}, At: t0}, ErrInvalid)
}

// Creates that race for the last of a quota, in one log, leave exactly as
// many VMs as the quota allows: the check runs in Apply.
func TestProjects_QuotaHoldsForCreatesInOneBatch(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1<<20, 256)
	f.must(CreateProject{Project: Project{Name: "p", Quota: Quota{VMs: ptr(int64(10))}}})
	var cmds []Command
	for i := range 64 {
		cmds = append(cmds, CreateVM{ID: numbered("vm", i), Spec: testSpec(numbered("vm", i), 64, 1), Project: "p", At: t0})
	}
	b, err := NewBatch(cmds...)
	if err != nil {
		t.Fatal(err)
	}
	f.apply(b)
	if page := f.VMPage(VMPageQuery{Project: "p", Max: 100}); len(page) != 10 {
		t.Fatalf("%d VMs in the project, want its quota of 10", len(page))
	}
}

// A snapshot keeps the projects and rebuilds the usage.
func TestProjects_SurviveASnapshot(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 8192, 8)
	f.must(CreateProject{Project: Project{Name: "prod", Description: "d", Quota: Quota{MemoryMiB: ptr(int64(4096))}, CreatedAt: t0}})
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 512, 1), Project: "prod", At: t0})
	g := New()
	if err := restoreBytes(g, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(f.FSM), dump(g))
	p, used, err := g.Project("prod")
	if err != nil || p.Description != "d" || *p.Quota.MemoryMiB != 4096 || used.MemoryMiB != 512 {
		t.Fatalf("restored prod = %+v, used %+v, %v", p, used, err)
	}
}
