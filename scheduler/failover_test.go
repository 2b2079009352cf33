package scheduler

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

func TestFailoverPlan_PlacesWhatFitsAndListsTheRest(t *testing.T) {
	h := newHarness(t).node("a", 16, 8192).node("b", 16, 4096).node("dead", 16, 32768)
	h.vm("load-a", "a", 1, 1192)
	h.vm("load-b", "b", 1, 1096)
	// Running VMs go first, the largest first; the stopped one, though the
	// largest of all, comes last and so does not take a's room.
	h.vm("stopped-big", "dead", 1, 6144, desired(fsm.VMStopped), observed(fsm.VMStopped))
	h.vm("small-run", "dead", 1, 1024)
	h.vm("big-run", "dead", 1, 6144)
	h.vm("mid-run", "dead", 1, 2048)
	c := h.cluster()
	probe := newVM("probe", 1, 6144)
	before := c.Place(probe, Options{At: t0})

	plan, err := c.FailoverPlan("id-dead", t0)
	if err != nil {
		t.Fatal(err)
	}
	if plan.NodeID != "id-dead" || plan.NodeName != "dead" {
		t.Fatalf("plan for %s/%s", plan.NodeID, plan.NodeName)
	}
	moves := map[string]string{}
	for _, m := range plan.Moves {
		moves[m.VMName] = m.NodeName
		if !m.Decision.OK() || m.Node != m.Decision.Node || !m.Decision.At.Equal(t0) {
			t.Fatalf("move %+v", m)
		}
	}
	if want := map[string]string{"big-run": "a", "mid-run": "b"}; !reflect.DeepEqual(moves, want) {
		t.Fatalf("moves %v, want %v", moves, want)
	}
	var notFit []string
	for _, m := range plan.NotFit {
		notFit = append(notFit, m.VMName)
		if m.Decision.OK() || m.Node != "" {
			t.Fatalf("not-fit entry %+v has a node", m)
		}
		if r := rejection(t, m.Decision, "dead"); r.Kind != RejectExcluded {
			t.Fatalf("the dead node was rejected for %+v", r)
		}
	}
	if want := []string{"small-run", "stopped-big"}; !reflect.DeepEqual(notFit, want) {
		t.Fatalf("not fit %v, want %v", notFit, want)
	}
	want := "no node fits: a: 856 MiB free, needs 1024; b: 952 MiB free, needs 1024; dead: excluded from this decision"
	if got := plan.NotFit[0].Decision.Reason; got != want {
		t.Fatalf("reason %q\nwant   %q", got, want)
	}
	// The snapshot itself is untouched.
	if after := c.Place(probe, Options{At: t0}); !reflect.DeepEqual(after, before) {
		t.Fatalf("fsm.FailoverPlan changed the cluster:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestFailoverPlan_ReleasesTheDeadNodesGroups(t *testing.T) {
	// Two hard-affinity members on the dead node must land together elsewhere,
	// not be held to the dead node.
	h := newHarness(t).node("a", 8, 8192).node("b", 8, 8192).node("dead", 8, 8192)
	h.vm("db-1", "dead", 1, 1024, group("db", fsm.GroupAffinity, true))
	h.vm("db-2", "dead", 1, 1024, group("db", fsm.GroupAffinity, true))
	plan, err := h.cluster().FailoverPlan("id-dead", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 2 || plan.Moves[0].NodeName != plan.Moves[1].NodeName {
		t.Fatalf("plan %+v", plan)
	}
}

func TestFailoverPlan_UnknownNode(t *testing.T) {
	h := newHarness(t).node("a", 8, 8192)
	if _, err := h.cluster().FailoverPlan("nope", t0); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("error %v, want ErrNotFound", err)
	}
}

func TestFailover_MovesOnlyWhatFailsOverHighestPriorityFirst(t *testing.T) {
	h := newHarness(t).node("a", 16, 4096).node("dead", 16, 32768)
	ha := func(priority int, disabled bool) vmOpt {
		return func(vm *fsm.VM) { vm.Spec.HA = &fsm.HASpec{Priority: priority, Disabled: disabled} }
	}
	// Room on a for one 3 GiB VM: the small one with the higher priority wins
	// over the larger ones, which a plan by size alone would have chosen.
	h.vm("big", "dead", 1, 3072)
	h.vm("urgent", "dead", 1, 3000, ha(100, false))
	h.vm("no-ha", "dead", 1, 512, ha(0, true))
	h.vm("stopped", "dead", 1, 512, desired(fsm.VMStopped), observed(fsm.VMStopped))
	h.vm("moving", "dead", 1, 512, migrating("m-1"))
	// Hard affinity with a member on the dead node must not hold the group there.
	h.vm("db", "dead", 1, 512, group("db", fsm.GroupAffinity, true))
	moves, err := h.cluster().Failover("id-dead", t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range moves {
		got = append(got, m.VMName+"->"+m.NodeName)
	}
	if want := []string{"urgent->a", "big->", "db->a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("failover moves %v, want %v", got, want)
	}
}

// TestFailover_LocalDisksWaitForTheirHost: a VM whose root volume is on the
// dead host's own disk (a dir pool) is not restarted elsewhere on a blank
// disk: a failover leaves it, and the plan says why.
func TestFailover_LocalDisksWaitForTheirHost(t *testing.T) {
	h := newHarness(t).node("a", 8, 8192).node("dead", 8, 8192)
	h.vm("local", "dead", 1, 1024, fromImage(1), func(vm *fsm.VM) { vm.LocalDisks = true })
	h.vm("shared", "dead", 1, 1024, fromImage(1), func(vm *fsm.VM) { vm.Spec.Pool = "nfs" })
	plan, err := h.cluster().FailoverPlan("id-dead", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].VMName != "shared" || plan.Moves[0].NodeName != "a" {
		t.Fatalf("moves %+v, want shared to a", plan.Moves)
	}
	if len(plan.NotFit) != 1 || plan.NotFit[0].VMName != "local" || !strings.Contains(plan.NotFit[0].Decision.Reason, "dir pool default") {
		t.Fatalf("not fit %+v, want local, waiting for its host's disk", plan.NotFit)
	}
	moves, err := h.cluster().Failover("id-dead", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 1 || moves[0].VMName != "shared" {
		t.Fatalf("a failover moves %+v, want shared only", moves)
	}
}
