package fsm

import "testing"

func TestDigest_SameStateSameDigestWhateverTheMapOrder(t *testing.T) {
	src := richFSM(t)
	want, err := src.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if want.AppliedIndex != src.AppliedIndex() || want.Nodes != 3 || want.VMs != 3 || want.Tokens != 2 || want.Migrations != 2 || want.Failovers != 1 {
		t.Fatalf("digest counts do not match the fixture: %+v", want)
	}
	// A restored copy holds the same state in freshly built maps; repeat so
	// that Go's random map order gets its chances.
	for range 5 {
		dst := newTestFSM(t)
		if err := restoreBytes(dst.FSM, snapshotBytes(t, src.FSM)); err != nil {
			t.Fatal(err)
		}
		got, err := dst.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("a restored copy digests differently:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestDigest_AnyChangeChangesIt(t *testing.T) {
	f := richFSM(t)
	before, _ := f.Digest()
	spec := f.vm("vm-1").Spec
	spec.Labels = map[string]string{"v": "1"}
	f.must(UpdateVM{ID: "vm-1", Spec: spec, At: t0})
	after, _ := f.Digest()
	if after.SHA256 == before.SHA256 {
		t.Fatal("a label change left the digest alone")
	}
	if after.AppliedIndex != before.AppliedIndex+1 {
		t.Fatalf("applied index %d, want %d", after.AppliedIndex, before.AppliedIndex+1)
	}
	// A refused command is a no-op at a new index: the state, and so the
	// digest, stay what they were.
	f.refuse(CreateVM{ID: "vm-9", Spec: testSpec("moved", 1, 1), At: t0}, ErrConflict)
	again, _ := f.Digest()
	if again.SHA256 != after.SHA256 {
		t.Fatal("a refused command changed the digest")
	}
}
