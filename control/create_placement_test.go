package control

import (
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

func newVMCreate(i int, vcpus int, at time.Time) *fsm.CreateVM {
	name := fmt.Sprintf("vm-%03d", i)
	return &fsm.CreateVM{ID: name, Spec: fsm.VMSpec{Name: name, VCPUs: vcpus, MemoryMiB: 256, DiskGiB: 1}, At: at}
}

// A create the leader places before proposing it is placed by its own entry:
// the VM is on a node as soon as the create is applied, with the decision
// that explains it. Batches decided before the last is applied (the
// batcher pipelines them) count what the earlier ones took, so no node is
// promised more than it has; what fits nowhere is created pending with its
// reasons, and once the entries are applied nothing is held aside any more.
func TestPrepareWrites_PlacesCreatesInTheirOwnEntryWithoutOvercommit(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	for _, id := range []string{"n1", "n2"} {
		c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: id, Name: id, Status: fsm.NodeAlive,
			Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100}}, At: now})
	}
	ctl, err := New(DefaultConfig(), c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	// Two batches decided back to back, neither applied yet: 8 vCPUs in all
	// fit, the 5th 2-vCPU VM does not.
	first := []fsm.Command{newVMCreate(0, 2, now), newVMCreate(1, 2, now), newVMCreate(2, 2, now)}
	second := []fsm.Command{newVMCreate(3, 2, now), newVMCreate(4, 2, now)}
	done1 := ctl.PrepareWrites(first)
	done2 := ctl.PrepareWrites(second)
	for _, cmd := range append(first, second...) {
		c.must(t, cmd)
	}
	done1()
	if done2 == nil {
		t.Fatal("the second batch placed nothing; one of its VMs fits")
	}
	done2()

	perNode := map[string]int{}
	var pending []fsm.VM
	for _, vm := range c.fsm.VMs() {
		if vm.Node == "" {
			pending = append(pending, vm)
			continue
		}
		perNode[vm.Node] += vm.Spec.VCPUs
		if vm.Decision == nil || !vm.Decision.OK() || vm.Placement == "" {
			t.Errorf("vm %s placed by its create without the decision: %q %+v", vm.ID, vm.Placement, vm.Decision)
		}
	}
	if perNode["n1"] != 4 || perNode["n2"] != 4 {
		t.Errorf("vCPUs promised per node: %v, want 4 on each", perNode)
	}
	if len(pending) != 1 || pending[0].Placement == "" || pending[0].Decision == nil {
		t.Fatalf("want one VM pending with the reasons it waits, got %+v", pending)
	}
	if len(ctl.inflight.reserved) != 0 {
		t.Errorf("held aside after every entry was applied: %v", ctl.inflight.reserved)
	}
}

// A VM in a placement group is left to the placement loop, which counts the
// group's members; a stale placement in a retried create is decided again.
func TestPrepareWrites_LeavesGroupsToTheLoopAndDecidesRetriesAgain(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "n1", Status: fsm.NodeAlive,
		Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100}}, At: now})
	ctl, err := New(DefaultConfig(), c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	grouped := newVMCreate(0, 1, now)
	grouped.Spec.Placement = &fsm.PlacementSpec{Groups: []fsm.GroupRule{{Group: "web", Kind: fsm.GroupAntiAffinity, Hard: true}}}
	grouped.Node = "n1"
	retried := newVMCreate(1, 1, now)
	retried.Node = "gone"
	if done := ctl.PrepareWrites([]fsm.Command{grouped, retried}); done == nil {
		t.Fatal("placed nothing")
	}
	if grouped.Node != "" || grouped.Decision != nil {
		t.Errorf("the grouped VM was placed at creation: %q %+v", grouped.Node, grouped.Decision)
	}
	if retried.Node != "n1" {
		t.Errorf("the retried create keeps node %q, want n1 decided again", retried.Node)
	}
}
