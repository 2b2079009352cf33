package host

import (
	"context"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// TestDataVolumes_SimHostSettlesEachChange: a simulated host (no files)
// reports each change to a running VM's volumes done, and removes a deleted
// volume it holds; nothing waits on it for ever.
func TestDataVolumes_SimHostSettlesEachChange(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	e.grantLease()
	ctx := context.Background()
	vm := e.createVM("vm-1", spec("web"), me)
	e.setDomain(e.driver, vm, hypervisor.StateRunning, 0)
	e.report(vm.ID, fsm.VMRunning)
	r := e.reconciler()
	now := time.Now().UTC()
	e.must(&fsm.CreateVolume{Volume: fsm.Volume{ID: "v1", Name: "data", SizeGiB: 2, CreatedAt: now}})
	e.must(&fsm.AttachVolume{ID: "v1", VM: vm.ID, At: now})
	volume := func() fsm.Volume {
		t.Helper()
		v, err := e.fsm.Volume("v1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := volume(); v.Attachment != fsm.Attaching {
		t.Fatalf("before the host's pass: %+v, want attaching", v)
	}
	r.reconcileOne(ctx, vm.ID)
	if v := volume(); v.Attachment != fsm.Attached || v.FileGiB != 2 || v.Host != me {
		t.Fatalf("after the host's pass: %+v, want attached, made at 2 GiB, on %s", v, me)
	}
	e.must(&fsm.ResizeVolume{ID: "v1", SizeGiB: 3, At: now})
	r.volumeChanged(ctx, "v1")
	if v := volume(); v.FileGiB != 3 {
		t.Fatalf("after growing: %+v, want its file at 3 GiB", v)
	}
	e.must(&fsm.DetachVolume{ID: "v1", VM: vm.ID, At: now})
	r.reconcileOne(ctx, vm.ID)
	if v := volume(); v.VM != "" || v.Host != me {
		t.Fatalf("after detaching: %+v, want detached, kept on %s", v, me)
	}
	e.must(&fsm.DeleteVolume{ID: "v1", At: now})
	r.volumeChanged(ctx, "v1")
	if _, err := e.fsm.Volume("v1"); err == nil {
		t.Fatal("the host did not report the deleted volume removed")
	}
}
