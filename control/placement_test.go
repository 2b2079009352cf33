package control

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// A burst of creations into a full cluster costs each new VM one decision,
// not a rescan of the backlog (issue 12); anything that may make room (here a
// node joining) decides the whole backlog again, and the VMs that now fit are
// placed.
func TestPlacement_DecidesOnlyNewVMsUntilRoomMayHaveFreed(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	small := fsm.Capacity{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}
	c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "n1", Status: fsm.NodeAlive, Capacity: small}, At: now})
	ctl, err := New(DefaultConfig(), c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	create := func(i int) {
		c.must(t, fsm.CreateVM{ID: fmt.Sprintf("vm-%03d", i), Spec: fsm.VMSpec{Name: fmt.Sprintf("vm-%03d", i), VCPUs: 4, MemoryMiB: 512, DiskGiB: 1}, At: now.Add(time.Duration(i))})
	}
	for i := range 200 {
		create(i)
	}
	var memo unfitMemo
	ctx := context.Background()
	if n := ctl.placePending(ctx, &memo); n != 200 {
		t.Fatalf("first pass decided %d VMs, want all 200", n)
	}
	// The reasons it wrote (PlaceVM without a node) make no room.
	if n := ctl.placePending(ctx, &memo); n != 0 {
		t.Fatalf("a pass with nothing new decided %d VMs, want 0", n)
	}
	create(200)
	if n := ctl.placePending(ctx, &memo); n != 1 {
		t.Fatalf("a pass after one creation decided %d VMs, want 1", n)
	}
	if vm, _ := c.fsm.VM("vm-200"); vm.Placement == "" {
		t.Fatal("the new VM got no reason why it waits")
	}
	// Room: a node that takes 4 vCPUs.
	c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: "n2", Name: "n2", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 4096, DiskGiB: 100}}, At: now})
	if n := ctl.placePending(ctx, &memo); n != 201 {
		t.Fatalf("a pass after a node joined decided %d VMs, want the whole backlog of 201", n)
	}
	placed := 0
	for _, vm := range c.fsm.VMs() {
		if vm.Node == "n2" {
			placed++
		}
	}
	if placed != 2 {
		t.Fatalf("%d VMs placed on the new node, want 2 (8 vCPUs, 4 each)", placed)
	}
}

// The epoch moves for what may make room and stays for what surely does not.
func TestCapacityEpoch_MovesOnlyWhenRoomMayFree(t *testing.T) {
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "n1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 4096, DiskGiB: 100}}, At: now})
	steps := []struct {
		cmd   fsm.Command
		moves bool
	}{
		{fsm.CreateVM{ID: "a", Spec: fsm.VMSpec{Name: "a", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: now}, false},
		{fsm.PlaceVM{ID: "a", Reason: "waiting", At: now}, false},
		{fsm.PlaceVM{ID: "a", Node: "n1", Reason: "fits", At: now}, true},
		{fsm.CreateToken{Token: fsm.Token{ID: "t", Name: "t", Role: "reader", Hash: fsm.HashSecret("t"), CreatedAt: now}}, false},
		{fsm.DeleteVM{ID: "a"}, true},
		{fsm.SetMaintenance{ID: "n1", Maintenance: true, At: now}, true},
	}
	for _, s := range steps {
		before := c.fsm.CapacityEpoch()
		c.must(t, s.cmd)
		if moved := c.fsm.CapacityEpoch() != before; moved != s.moves {
			t.Errorf("%s: epoch moved %v, want %v", s.cmd.Type(), moved, s.moves)
		}
	}
	// A refused command changes nothing.
	before := c.fsm.CapacityEpoch()
	if _, err := c.Apply(context.Background(), fsm.DeleteVM{ID: "no-such-vm"}); err == nil {
		t.Fatal("deleting an unknown VM was accepted")
	}
	if c.fsm.CapacityEpoch() != before {
		t.Error("a refused command moved the epoch")
	}
}
