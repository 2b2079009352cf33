package host

import (
	"testing"
	"time"
)

func TestHostLease_FenceWaitsForAStartUnderWayAndStopsLaterOnes(t *testing.T) {
	l := newHostLease()
	l.renewed(time.Now().Add(time.Minute))
	release, ok := l.holdValid()
	if !ok {
		t.Fatal("a valid lease refused a start")
	}
	began := make(chan bool)
	go func() { began <- l.beginFence() }()
	select {
	case <-began:
		t.Fatal("the fence began while a start was under way")
	case <-time.After(50 * time.Millisecond): // long enough for the goroutine to block
	}
	release()
	if !<-began {
		t.Fatal("the fence did not begin once the start returned")
	}
	if _, ok := l.holdValid(); ok {
		t.Fatal("a start was allowed during the fence")
	}
	if l.beginFence() {
		t.Fatal("a second fence began over the first")
	}
}

func TestHostLease_RenewalLiftsTheFenceAndWakesReconcilers(t *testing.T) {
	l := newHostLease()
	woken := l.subscribe()
	if !l.safe() {
		t.Fatal("a host that never had a lease (bootstrap) must not be reset")
	}
	l.renewed(time.Now().Add(time.Minute))
	select {
	case <-woken:
	default:
		t.Fatal("the first lease did not wake the reconcilers")
	}
	l.renewed(time.Now().Add(time.Minute))
	select {
	case <-woken:
		t.Fatal("a plain renewal woke the reconcilers")
	default:
	}
	<-l.changed // drain: the fence watcher's wake-ups
	l.beginFence()
	if l.safe() {
		t.Fatal("the watchdog may be petted before the fence finished")
	}
	l.endFence()
	if !l.safe() {
		t.Fatal("a finished fence must not get the host reset")
	}
	if !l.renewed(time.Now().Add(time.Minute)) || l.isFenced() || !l.valid() {
		t.Fatal("the renewal did not lift the fence")
	}
	// The fence watcher learns of it in the same step: fenced is already
	// false when it wakes, so it waits for the new deadline, not for ever.
	select {
	case <-l.changed:
	default:
		t.Fatal("the fence watcher was not woken")
	}
	select {
	case <-woken:
	default:
		t.Fatal("lifting the fence did not wake the reconcilers")
	}
	l.renewed(time.Now().Add(-time.Second)) // an old renewal never shortens the lease
	if !l.valid() {
		t.Fatal("an older renewal shortened the lease")
	}
}
