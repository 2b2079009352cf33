package guard

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
	w, err := OpenWatchdog(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Pet(true)
	w.Pet(false) // not safe: the kernel's timer runs on
	w.Pet(true)
	w.Disarm()
	got, _ := os.ReadFile(path)
	if string(got) != "11V" {
		t.Fatalf("device got %q, want two pets and the magic close", got)
	}
	if _, err := OpenWatchdog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing watchdog device was accepted")
	}
	none, _ := OpenWatchdog("")
	none.Pet(true) // no device: nothing happens
	none.Disarm()
}
