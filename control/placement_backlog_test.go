package control

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// A backlog of one shape is decided once per pass for the VMs that no longer
// fit, yet a smaller VM behind them is still placed, and each VM that waits
// carries the reason.
func TestPlacement_BacklogOfOneShapeStillPlacesASmallerVM(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "n1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 8192, DiskGiB: 100}}, At: now})
	c.must(t, fsm.SetMaintenance{ID: "n1", Maintenance: true, At: now})
	ctl, err := New(DefaultConfig(), c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string, vcpus int, i int) {
		c.must(t, fsm.CreateVM{ID: name, Spec: fsm.VMSpec{Name: name, VCPUs: vcpus, MemoryMiB: 256, DiskGiB: 1}, At: now.Add(time.Duration(i))})
	}
	for i := range 10 {
		create(fmt.Sprintf("big-%d", i), 3, i)
	}
	create("small", 2, 10)
	var memo unfitMemo
	ctx := context.Background()
	ctl.placePending(ctx, &memo)
	c.must(t, fsm.SetMaintenance{ID: "n1", Maintenance: false, At: now})
	ctl.placePending(ctx, &memo)

	placedBig, waiting := 0, 0
	for _, vm := range c.fsm.VMs() {
		switch {
		case vm.Spec.Name == "small":
			if vm.Node != "n1" {
				t.Errorf("the 2-vCPU VM behind the backlog is not placed: node %q, %q", vm.Node, vm.Placement)
			}
		case vm.Node == "n1":
			placedBig++
		default:
			waiting++
			if !strings.Contains(vm.Placement, "no node fits") || vm.Decision == nil || vm.Decision.OK() {
				t.Errorf("waiting VM %s has no reason: %q", vm.Spec.Name, vm.Placement)
			}
		}
	}
	if placedBig != 2 || waiting != 8 {
		t.Fatalf("%d 3-vCPU VMs placed and %d waiting, want 2 and 8 (8 vCPUs: 2x3 + 2)", placedBig, waiting)
	}
}

// In a large cluster a pending VM's reason is written again when the kinds
// of rejection change, not for every count that moves: a backlog is not
// rewritten to the log at every capacity change.
func TestPlacement_PendingReasonRewrittenForNewKindsOnly(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	for i := range 6 {
		id := fmt.Sprintf("n%d", i)
		c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: id, Name: id, Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 1, MemoryMiB: 8192, DiskGiB: 100}}, At: now})
		c.must(t, fsm.SetMaintenance{ID: id, Maintenance: true, At: now})
	}
	ctl, err := New(DefaultConfig(), c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	c.must(t, fsm.CreateVM{ID: "vm", Spec: fsm.VMSpec{Name: "vm", VCPUs: 2, MemoryMiB: 256, DiskGiB: 1}, At: now})
	var memo unfitMemo
	ctx := context.Background()
	reason := func() string {
		vm, _ := c.fsm.VM("vm")
		return vm.Placement
	}
	ctl.placePending(ctx, &memo)
	first := reason()
	if !strings.Contains(first, "6 ") {
		t.Fatalf("first reason %q does not count the 6 nodes in maintenance", first)
	}
	// A node back from maintenance, too small: a new kind (vCPUs).
	c.must(t, fsm.SetMaintenance{ID: "n0", Maintenance: false, At: now})
	ctl.placePending(ctx, &memo)
	second := reason()
	if second == first {
		t.Fatalf("reason not rewritten for a new kind of rejection: %q", second)
	}
	// Another one: only the counts move.
	c.must(t, fsm.SetMaintenance{ID: "n1", Maintenance: false, At: now})
	ctl.placePending(ctx, &memo)
	if third := reason(); third != second {
		t.Fatalf("reason rewritten for counts alone: %q, was %q", third, second)
	}
}

func TestNoFitChanged(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	decision := func(reason string, considered int, kinds ...string) *fsm.Decision {
		d := &fsm.Decision{Reason: reason, Considered: considered, At: at}
		for _, k := range kinds {
			d.RejectedCounts.Add(k, 1)
		}
		return d
	}
	vm := func(d *fsm.Decision) *fsm.VM { return &fsm.VM{Placement: d.Reason, Decision: d} }
	old := decision("no node fits among 6 nodes: 6 maintenance", 6, "maintenance")
	cases := []struct {
		name string
		vm   *fsm.VM
		d    *fsm.Decision
		at   time.Time
		want bool
	}{
		{"same text", vm(old), decision(old.Reason, 6, "maintenance"), at, false},
		{"counts only", vm(old), decision("no node fits among 7 nodes: 7 maintenance", 7, "maintenance"), at.Add(time.Second), false},
		{"counts only, a minute on", vm(old), decision("no node fits among 7 nodes: 7 maintenance", 7, "maintenance"), at.Add(noFitRefresh), true},
		{"a new kind", vm(old), decision("no node fits among 6 nodes: 5 maintenance, 1 vcpu", 6, "maintenance", "vcpu"), at, true},
		{"a kind gone", vm(decision("x", 6, "maintenance", "vcpu")), decision("y", 6, "vcpu"), at, true},
		{"small cluster, new text", vm(decision("no node fits: n1: a", 1, "vcpu")), decision("no node fits: n1: b", 1, "vcpu"), at, true},
		{"never decided", &fsm.VM{}, decision("no node fits", 6, "vcpu"), at, true},
		{"was placed", vm(&fsm.Decision{Node: "n1", Reason: "fits", At: at}), decision("no node fits", 6, "vcpu"), at, true},
	}
	for _, tc := range cases {
		if got := noFitChanged(tc.vm, tc.d, tc.at); got != tc.want {
			t.Errorf("%s: noFitChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}
