package fsm

import (
	"errors"
	"strings"
	"testing"
)

// A create proposed twice under one request ID (a retry after a lost answer)
// makes one VM; the second is refused as a duplicate naming the first. Without
// a request ID, or with another, the same name is a conflict as ever.
func TestCreateVM_RequestIDMakesOneVM(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	first := CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), At: t0, RequestID: "tok-1:key-a"}
	f.must(first)
	retry := first
	retry.ID = "vm-2" // a retry through another node gets another ID
	err := f.refuse(retry, ErrDuplicateRequest)
	if !strings.Contains(err.Error(), "vm-1") {
		t.Errorf("duplicate %v does not name the VM made", err)
	}
	if n := len(f.VMs()); n != 1 {
		t.Fatalf("%d VMs after a retried create, want 1", n)
	}
	if vm := f.vm("vm-1"); vm.RequestID != "tok-1:key-a" {
		t.Errorf("request id kept %q", vm.RequestID)
	}
	for _, other := range []string{"", "tok-1:key-b", "tok-2:key-a"} {
		c := first
		c.ID, c.RequestID = "vm-3", other
		if err := f.apply(c); !errors.Is(err, ErrConflict) {
			t.Errorf("request id %q for a taken name: %v, want a conflict", other, err)
		}
	}
	long := first
	long.ID, long.Spec.Name, long.RequestID = "vm-4", "other", strings.Repeat("k", MaxRequestIDLen+1)
	f.refuse(long, ErrInvalid)
	if !SafeToRetry(&first) || SafeToRetry(&CreateVM{ID: "x"}) || SafeToRetry(&DeleteVM{ID: "x"}) {
		t.Error("SafeToRetry: only a create with a request id")
	}
}
