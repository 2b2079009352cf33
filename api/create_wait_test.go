package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/control"
	"github.com/novacron/novacron/fsm"
)

// A create the leader could not place in its own entry answers once the
// placement loop has placed it: "scheduled" on its node, not a bare
// "pending" (issue 13). A goroutine plays the placement loop, and places the
// VM only once the handler waits for the entry after the create's.
func TestCreateVM_AnswersOnceThePlacementLoopHasPlacedIt(t *testing.T) {
	waiting := make(chan uint64, 16)
	e := newTestEnvWith(t, Config{NodeName: "node-1", PlacementWait: time.Minute}, func(f *fsm.FSM) State {
		return waitSignalState{FSM: f, waiting: waiting}
	})
	target := e.nodes[1]
	placed := make(chan error, 1)
	go func() {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case idx := <-waiting:
				vm, err := e.fsm.VMByName("", "web-1")
				if err != nil || idx <= vm.Index {
					continue // not yet waiting for what comes after the create
				}
				_, err = e.cluster.Apply(context.Background(), &fsm.PlaceVM{ID: vm.ID, Node: target.ID,
					FromGeneration: vm.Generation, Reason: "the placement loop", At: time.Now()})
				placed <- err
				return
			case <-timeout:
				placed <- errors.New("the create never waited for its placement")
				return
			}
		}
	}()
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expect(t, http.StatusCreated, &vm)
	if err := <-placed; err != nil {
		t.Fatalf("placing the VM: %v", err)
	}
	if vm.State != client.StateScheduled || vm.Node != target.ID || vm.NodeName != target.Name {
		t.Fatalf("create answered state %q on node %q (%q), want scheduled on %s", vm.State, vm.NodeName, vm.Node, target.Name)
	}
}

// A create whose VM fits nowhere answers at once, pending with the reason.
func TestCreateVM_FitsNowhereAnswersPendingWithTheReason(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", PlacementWait: time.Minute}, nil)
	ctl, err := control.New(control.DefaultConfig(), e.cluster, e.fsm)
	if err != nil {
		t.Fatal(err)
	}
	e.cluster.prepare = ctl.PrepareWrites
	req := validVM("web-1")
	req.Placement = &client.PlacementSpec{NodeSelector: map[string]string{"gpu": "true"}}
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, &vm)
	if vm.State != client.StatePending || vm.PlacementReason == "" {
		t.Fatalf("create answered state %q, reason %q; want pending with a reason", vm.State, vm.PlacementReason)
	}
}

// When nothing decides within PlacementWait the create still answers, with
// the VM as it stands: the create itself was made.
func TestCreateVM_AnswersPendingWhenNoDecisionComesInTime(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", PlacementWait: 50 * time.Millisecond}, nil)
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM("web-1")).expect(t, http.StatusCreated, &vm)
	if vm.State != client.StatePending || vm.Node != "" {
		t.Fatalf("create answered state %q on %q, want pending on no node", vm.State, vm.Node)
	}
	if _, err := e.fsm.VMByName("", "web-1"); err != nil {
		t.Fatalf("the VM was not kept: %v", err)
	}
}
