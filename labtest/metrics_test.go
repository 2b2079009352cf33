package labtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// sampleEvery is the lab agents' --metrics-interval (the default).
const sampleEvery = 10 * time.Second

// A real QEMU guest's metrics history (issue 16) goes on across a live
// migration: libvirt's bulk stats on the source, then on the destination,
// stitched into one history with no hole longer than one sample interval
// plus the migration (and the history's 10 s step).
func TestLab_MetricsHistoryContinuesAcrossLiveMigration(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	ctx := context.Background()
	vm := l.createVM(t, c, l.guest(uniqueName("charted"), ""))
	p := l.waitRunning(t, c, vm.ID, runTimeout)
	p.Host.waitTicks(t, p.Domain, 2, bootTimeout)
	history := func() (*client.MetricsHistory, error) {
		return c.VMMetrics(ctx, vm.ID, client.MetricsQuery{Since: 10 * time.Minute, Step: sampleEvery})
	}
	points := func(h *client.MetricsHistory, field string) []time.Time {
		i := -1
		for j, f := range h.Fields {
			if f == field {
				i = j
			}
		}
		var out []time.Time
		for _, pt := range h.Points {
			if i >= 0 && i < len(pt.Avg) && pt.Avg[i] != nil {
				out = append(out, pt.At)
			}
		}
		return out
	}
	testutil.Eventually(t, time.Minute, "CPU samples of the guest on "+p.Host.Name, func() error {
		h, err := history()
		if err != nil {
			return err
		}
		if n := len(points(h, "cpu_percent")); n < 2 {
			return fmt.Errorf("%d CPU points", n)
		}
		return nil
	})

	dst := l.otherHost(p.Host)
	m, err := c.MigrateVM(ctx, vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	w := followMigration(t, c, m.ID, migrateTimeout, 100*time.Millisecond)
	if w.final.State != client.MigrationCompleted {
		t.Fatalf("migration ended %s (%s)", w.final.State, w.final.Error)
	}
	moved := w.completedAt.Sub(started)
	var h *client.MetricsHistory
	testutil.Eventually(t, time.Minute, "CPU samples of the guest on "+dst.Name, func() error {
		var err error
		if h, err = history(); err != nil {
			return err
		}
		var after int
		for _, at := range points(h, "cpu_percent") {
			if at.After(w.completedAt) {
				after++
			}
		}
		if after < 2 {
			return fmt.Errorf("%d CPU points after the move", after)
		}
		return nil
	})
	mem := points(h, "mem_max_bytes")
	allowed := sampleEvery + moved + 2*sampleEvery // a sample interval, the move, and the 10 s buckets at each end
	for i := 1; i < len(mem); i++ {
		if gap := mem[i].Sub(mem[i-1]); gap > allowed {
			t.Fatalf("a hole of %s in the history (%s to %s) across a move of %s; at most %s", gap, mem[i-1], mem[i], moved.Round(time.Millisecond), allowed)
		}
	}
	if len(mem) < 4 || !mem[0].Before(started) || !mem[len(mem)-1].After(w.completedAt) {
		t.Fatalf("history %v does not span the move (%s to %s)", mem, started, w.completedAt)
	}
	t.Logf("history of %s: %d points from %s to %s; the move took %s", vm.Name, len(mem), mem[0], mem[len(mem)-1], moved.Round(time.Millisecond))
}
