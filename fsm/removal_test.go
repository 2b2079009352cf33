package fsm

import (
	"testing"
)

// A delete of a placed VM leaves a removal until its own host confirms the
// domain gone; a VM that never had a node leaves none.
func TestDeleteVM_LeavesARemovalUntilItsHostConfirms(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), Node: "n1", At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("big", 1<<20, 1), At: t0}) // fits nowhere
	f.must(DeleteVM{ID: "vm-1", At: t0})
	f.must(DeleteVM{ID: "vm-2", At: t0})

	r, ok := f.Removal("vm-1")
	if !ok || r.Node != "n1" || r.Name != "web" || !r.DeletedAt.Equal(t0) || r.Index != f.index-1 {
		t.Fatalf("removal of vm-1 = %+v, %v; want on n1, named web, at the delete's index %d", r, ok, f.index-1)
	}
	if _, ok := f.Removal("vm-2"); ok {
		t.Fatal("a VM placed nowhere left a removal: no host has anything to remove")
	}
	if got := f.RemovalsOnNode("n1"); len(got) != 1 || got[0].VMID != "vm-1" {
		t.Fatalf("removals on n1 = %+v", got)
	}

	// Another host cannot confirm for n1.
	f.must(DomainRemoved{Node: "n2", VMIDs: []string{"vm-1"}})
	if _, ok := f.Removal("vm-1"); !ok {
		t.Fatal("node n2 confirmed the removal of a domain on n1")
	}
	f.must(DomainRemoved{Node: "n1", VMIDs: []string{"vm-1", "vm-unknown"}})
	if _, ok := f.Removal("vm-1"); ok || len(f.RemovalsOnNode("n1")) != 0 {
		t.Fatal("the removal stayed after its host confirmed it")
	}

	// The name is free at once: a new VM may take it while the old domain goes.
	f.must(CreateVM{ID: "vm-3", Spec: testSpec("web", 256, 1), Node: "n1", At: t0})
}

// A node that leaves the state takes its removals along; the state survives
// a snapshot with them.
func TestRemovals_GoWithTheirNodeAndSurviveASnapshot(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("a", 256, 1), Node: "n1", At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("b", 256, 1), Node: "n2", At: t0})
	f.must(DeleteVM{ID: "vm-1", At: t0})
	f.must(DeleteVM{ID: "vm-2", At: t0})

	restored := New()
	if err := restoreBytes(restored, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(f.FSM), dump(restored))
	if len(restored.RemovalsOnNode("n2")) != 1 {
		t.Fatalf("restored removals on n2: %+v", restored.RemovalsOnNode("n2"))
	}

	f.must(SetNodeStatus{ID: "n2", Status: NodeLeft, At: t0})
	f.must(RemoveNode{ID: "n2"})
	if _, ok := f.Removal("vm-2"); ok {
		t.Fatal("a removed node's removal stayed")
	}
	if _, ok := f.Removal("vm-1"); !ok {
		t.Fatal("another node's removal went with it")
	}
}

// The table is bounded: past MaxRemovals the oldest removal gives way.
func TestRemovals_Bounded(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1<<30, 1<<20)
	for i := range MaxRemovals + 1 {
		id := numbered("vm", i)
		f.must(CreateVM{ID: id, Spec: testSpec(id, 1, 1), Node: "n1", At: t0})
		f.must(DeleteVM{ID: id, At: t0})
	}
	if n := len(f.Removals()); n != MaxRemovals {
		t.Fatalf("%d removals kept, want %d", n, MaxRemovals)
	}
	if _, ok := f.Removal("vm-0"); ok {
		t.Fatal("the oldest removal stayed past the bound")
	}
	if _, ok := f.Removal(numbered("vm", MaxRemovals)); !ok {
		t.Fatal("the newest removal was dropped")
	}
	f.refuse(DomainRemoved{Node: "n1", VMIDs: make([]string, MaxDomainsRemoved+1)}, ErrInvalid)
}
