package cluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWatchdog_PetsOnlyWithALeaseAndDisarmsOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := openWatchdog(path)
	if err != nil {
		t.Fatal(err)
	}
	w.pet(true)
	w.pet(false) // no lease: the kernel's timer runs on
	w.pet(true)
	w.close()
	got, _ := os.ReadFile(path)
	if string(got) != "11V" {
		t.Fatalf("device got %q, want two pets and the magic close", got)
	}
	if _, err := openWatchdog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing watchdog device was accepted")
	}
	none, _ := openWatchdog("")
	none.pet(true) // no device: nothing happens
	none.close()
}
