package libvirt

import (
	"strings"
	"testing"
	"time"
)

// TestQEMU_ConsoleCloseUnderABlockedRead: a console closed while another
// goroutine is blocked reading it (a WebSocket's two directions) wakes the
// reader at once and frees the stream only after it left: no use after
// free in libvirt, no reader left hanging, and the guest's output did come
// through the console before.
func TestQEMU_ConsoleCloseUnderABlockedRead(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "console")
	ctx := ctxT(t, 5*time.Minute)
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.waitConsole(t, dom, "tick 2", 1, 2*time.Minute)
	con, err := d.OpenConsole(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := con.Read(buf)
			if n > 0 {
				got <- string(buf[:n])
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	var seen strings.Builder
	deadline := time.After(30 * time.Second)
	for !strings.Contains(seen.String(), "tick") {
		select {
		case s := <-got:
			seen.WriteString(s)
		case <-deadline:
			t.Fatalf("no tick through the console in 30s: %q", seen.String())
		}
	}
	start := time.Now()
	con.Close()
	select {
	case <-done:
	case <-time.After(consoleCloseWait):
		t.Fatal("the blocked reader did not return after Close")
	}
	if took := time.Since(start); took >= consoleCloseWait {
		t.Fatalf("Close took %s: it waited out the reader instead of waking it", took)
	}
	if n, err := con.Read(make([]byte, 8)); n != 0 || err == nil {
		t.Fatalf("a read after Close: %d, %v", n, err)
	}
	// The domain is unharmed, and a console opens again.
	con2, err := d.OpenConsole(ctx, spec.ID)
	if err != nil {
		t.Fatalf("reopening the console: %v", err)
	}
	con2.Close()
}
