package scheduler

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

var _ State = (*fsm.FSM)(nil)

// fakeState is a State built by hand.
type fakeState struct {
	nodes     []fsm.Node
	allocated map[string]fsm.Capacity
}

func (s *fakeState) Nodes() []fsm.Node { return append([]fsm.Node(nil), s.nodes...) }

func (s *fakeState) Allocated(id string) fsm.Capacity { return s.allocated[id] }

// add adds a node with the given capacity and allocation.
func (s *fakeState) add(id, name string, status fsm.NodeStatus, vcpus int, mem int64, usedVCPUs int, usedMem int64) *fakeState {
	s.nodes = append(s.nodes, fsm.Node{ID: id, Name: name, Status: status, Capacity: fsm.Capacity{VCPUs: vcpus, MemoryMiB: mem, DiskGiB: 100}})
	if s.allocated == nil {
		s.allocated = map[string]fsm.Capacity{}
	}
	if usedVCPUs != 0 || usedMem != 0 {
		s.allocated[id] = fsm.Capacity{VCPUs: usedVCPUs, MemoryMiB: usedMem}
	}
	return s
}

func small() fsm.VMSpec { return fsm.VMSpec{Name: "web", VCPUs: 1, MemoryMiB: 256, DiskGiB: 1} }

func TestPlace_PicksMostFreeMemory(t *testing.T) {
	st := (&fakeState{}).
		add("id-1", "node-1", fsm.NodeAlive, 8, 4096, 2, 2048).
		add("id-2", "node-2", fsm.NodeAlive, 8, 4096, 1, 256).
		add("id-3", "node-3", fsm.NodeAlive, 8, 8192, 4, 6144)
	d := Place(st, small())
	if !d.OK() || d.Node != "id-2" || d.NodeName != "node-2" {
		t.Fatalf("decision %+v, want node-2", d)
	}
	want := "most free memory: node-2 has 3840 MiB and 7 vCPUs free, vm needs 256 MiB and 1 vCPUs (3 of 3 nodes fit)"
	if d.Reason != want {
		t.Fatalf("reason %q\nwant   %q", d.Reason, want)
	}
	wantCands := []Candidate{
		{NodeID: "id-1", NodeName: "node-1", FreeMemoryMiB: 2048, FreeVCPUs: 6},
		{NodeID: "id-2", NodeName: "node-2", FreeMemoryMiB: 3840, FreeVCPUs: 7},
		{NodeID: "id-3", NodeName: "node-3", FreeMemoryMiB: 2048, FreeVCPUs: 4},
	}
	if !reflect.DeepEqual(d.Candidates, wantCands) {
		t.Fatalf("candidates %+v\nwant       %+v", d.Candidates, wantCands)
	}
}

func TestPlace_SkipsNodesNotAlive(t *testing.T) {
	st := &fakeState{}
	for i, s := range []fsm.NodeStatus{fsm.NodeFailed, fsm.NodeSuspect, fsm.NodeMaintenance, fsm.NodeLeft} {
		// Each node that is not alive has far more room than the alive one.
		st.add(fmt.Sprintf("id-%d", i), fmt.Sprintf("big-%d", i), s, 64, 1<<20, 0, 0)
	}
	st.add("id-small", "small", fsm.NodeAlive, 2, 512, 0, 0)
	d := Place(st, small())
	if d.Node != "id-small" {
		t.Fatalf("decision %+v, want the only alive node", d)
	}
	for _, c := range d.Candidates {
		if c.NodeName != "small" && c.Rejected == "" {
			t.Fatalf("candidate %+v that is not alive was not rejected", c)
		}
	}
	if d.Candidates[0].Rejected != "failed" || d.Candidates[3].Rejected != "left" {
		t.Fatalf("rejections %+v", d.Candidates)
	}
}

func TestPlace_NoFitExplainsEachNode(t *testing.T) {
	st := (&fakeState{}).
		add("id-1", "node-1", fsm.NodeAlive, 8, 1024, 0, 896).
		add("id-2", "node-2", fsm.NodeFailed, 8, 8192, 0, 0).
		add("id-3", "node-3", fsm.NodeAlive, 4, 8192, 4, 0)
	d := Place(st, small())
	if d.OK() || d.Node != "" || d.NodeName != "" {
		t.Fatalf("decision %+v, want none", d)
	}
	want := "no node fits: node-1: 128 MiB free, needs 256; node-2: failed; node-3: 0 vCPUs free, needs 1"
	if d.Reason != want {
		t.Fatalf("reason %q\nwant   %q", d.Reason, want)
	}
	if len(d.Candidates) != 3 {
		t.Fatalf("candidates %+v", d.Candidates)
	}
}

func TestPlace_NoNodes(t *testing.T) {
	d := Place(&fakeState{}, small())
	if d.OK() || d.Reason != "no node fits: the cluster has no nodes" {
		t.Fatalf("decision %+v", d)
	}
}

func TestPlace_ExactFitAccepted(t *testing.T) {
	st := (&fakeState{}).add("id-1", "node-1", fsm.NodeAlive, 2, 1024, 1, 768)
	if d := Place(st, small()); d.Node != "id-1" {
		t.Fatalf("decision %+v: a VM that uses exactly the free room must fit", d)
	}
}

func TestPlace_TieBrokenByName(t *testing.T) {
	// Same free memory everywhere; the input order must not matter.
	st := (&fakeState{}).
		add("id-c", "charlie", fsm.NodeAlive, 8, 4096, 0, 0).
		add("id-a", "alpha", fsm.NodeAlive, 4, 4096, 0, 0).
		add("id-b", "bravo", fsm.NodeAlive, 8, 4096, 0, 0)
	for i := 0; i < 5; i++ {
		d := Place(st, small())
		if d.Node != "id-a" {
			t.Fatalf("decision %+v, want alpha", d)
		}
		if d.Candidates[0].NodeName != "alpha" || d.Candidates[2].NodeName != "charlie" {
			t.Fatalf("candidates not sorted by name: %+v", d.Candidates)
		}
		st.nodes = append(st.nodes[1:], st.nodes[0])
	}
}

// TestPlace_AgreesWithFSM checks on random clusters that Place finds a node
// exactly when the FSM would accept some placement, and that the FSM accepts the
// node Place picks: the leader must not propose placements the FSM refuses.
func TestPlace_AgreesWithFSM(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []fsm.NodeStatus{fsm.NodeAlive, fsm.NodeAlive, fsm.NodeAlive, fsm.NodeFailed, fsm.NodeMaintenance}
	for round := 0; round < 50; round++ {
		f := fsm.New()
		idx := uint64(0)
		apply := func(c fsm.Command) error { idx++; return f.ApplyCommand(c, idx) }
		nodes := 1 + rng.Intn(4)
		for i := 0; i < nodes; i++ {
			n := fsm.Node{ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("node-%d", i), Status: fsm.NodeAlive,
				Capacity: fsm.Capacity{VCPUs: 1 + rng.Intn(8), MemoryMiB: int64(512 * (1 + rng.Intn(8))), DiskGiB: 100}}
			if err := apply(fsm.RegisterNode{Node: n, At: at}); err != nil {
				t.Fatal(err)
			}
		}
		// Fill the cluster with VMs placed by the scheduler itself.
		for v := 0; v < 20; v++ {
			spec := fsm.VMSpec{Name: fmt.Sprintf("vm-%d", v), VCPUs: 1 + rng.Intn(3), MemoryMiB: int64(128 * (1 + rng.Intn(8))), DiskGiB: 1}
			d := Place(f, spec)
			anyFits := false
			for _, n := range f.Nodes() {
				anyFits = anyFits || f.Fits(n.ID, spec) == nil
			}
			if d.OK() != anyFits {
				t.Fatalf("round %d vm %d: Place %+v but FSM fits somewhere = %v", round, v, d, anyFits)
			}
			id := fmt.Sprintf("vm-id-%d", v)
			if err := apply(fsm.CreateVM{ID: id, Spec: spec, At: at}); err != nil {
				t.Fatal(err)
			}
			if d.OK() {
				if err := apply(fsm.PlaceVM{ID: id, Node: d.Node, Reason: d.Reason, At: at}); err != nil {
					t.Fatalf("round %d: FSM refused the scheduler's choice %+v: %v", round, d, err)
				}
			}
			if rng.Intn(4) == 0 {
				n := f.Nodes()[rng.Intn(nodes)]
				if err := apply(fsm.SetNodeStatus{ID: n.ID, Status: statuses[rng.Intn(len(statuses))], At: at}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestPlace_OnlyOnNodesWithTheNetwork(t *testing.T) {
	st := &fakeState{nodes: []fsm.Node{
		{ID: "a", Name: "node-a", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 8192}},
		{ID: "b", Name: "node-b", Status: fsm.NodeAlive, Networks: []string{"lab"}, Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 1024}},
	}}
	spec := fsm.VMSpec{Name: "vm", VCPUs: 1, MemoryMiB: 256, DiskGiB: 1, NICs: []fsm.NIC{{Network: "lab"}}}
	d := Place(st, spec)
	if d.Node != "b" {
		t.Fatalf("placed on %q, want node-b, the only one with network lab: %s", d.NodeName, d.Reason)
	}
	if d.Candidates[0].Rejected != `no network "lab"` {
		t.Fatalf("node-a rejected for %q", d.Candidates[0].Rejected)
	}
}
