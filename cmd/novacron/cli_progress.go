package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/novacron/novacron/api/client"
)

// progressBarWidth is the number of cells of the migration progress bar.
const progressBarWidth = 30

// watchMigration polls migration m until it ends, showing its progress, then
// prints libvirt's figures. It fails when the migration failed or was
// cancelled, so the command exits with 1. The first read waits for the index
// of the write that created m, so a follower answers it too.
func (a *app) watchMigration(ctx context.Context, c *client.Client, m *client.Migration) error {
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := &progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}
	ticker := time.NewTicker(a.pollInterval)
	defer ticker.Stop()
	cur := m
	p.show(migrationLine(cur, a.terminal))
	for !client.MigrationFinal(cur.State) {
		select {
		case <-ctx.Done():
			p.end()
			return fmt.Errorf("stopped watching migration %s (%w); it goes on: follow it with 'novacron migration show %s'", m.ID, ctx.Err(), m.ID)
		case <-ticker.C:
		}
		next, err := rc.Migration(ctx, m.ID)
		if err != nil {
			if ctx.Err() != nil {
				continue // reported by the select above
			}
			p.end()
			return err
		}
		cur = next
		p.show(migrationLine(cur, a.terminal))
	}
	p.end()
	if a.json() {
		if err := a.printData(cur); err != nil {
			return err
		}
	}
	switch cur.State {
	case client.MigrationCompleted:
		if !a.json() {
			printf(a.stdout, "Migration %s completed: %s now runs on %s.\n", cur.ID, cur.VMName, nameOr(cur.TargetName, cur.Target))
			if cur.Result != nil {
				printf(a.stdout, "Hypervisor figures: %s.\n", describeResult(cur.Result))
			}
		}
		return nil
	case client.MigrationCancelled:
		return fmt.Errorf("migration %s was cancelled (%s); %s stays on %s", cur.ID, orDash(cur.Error), cur.VMName, nameOr(cur.SourceName, cur.Source))
	default:
		return fmt.Errorf("migration %s failed: %s; %s stays on %s", cur.ID, orDash(cur.Error), cur.VMName, nameOr(cur.SourceName, cur.Source))
	}
}

// migrationLine is one progress line for a migration that has not ended. On a
// terminal the copy shows as a bar.
func migrationLine(m *client.Migration, bar bool) string {
	var s string
	switch {
	case client.MigrationFinal(m.State):
		return ""
	case m.State == client.MigrationPending:
		s = "pending: waiting for a migration slot"
	case m.State == client.MigrationPreparing:
		s = "preparing: the destination gets ready"
	case m.Progress == nil:
		s = "running"
	case bar:
		p := m.Progress
		s = fmt.Sprintf("%s %5.1f%%  %s sent, %s left, dirty %s/s", drawBar(p.Percent), p.Percent,
			formatBytes(p.DataProcessed), formatBytes(p.DataRemaining), formatBytes(p.DirtyRate))
	default:
		s = "running " + describeProgress(m.Progress)
	}
	if m.CancelRequested {
		s += " (cancel requested)"
	}
	return s
}

// drawBar draws percent as [#####-----].
func drawBar(percent float64) string {
	n := int(percent / 100 * progressBarWidth)
	n = min(max(n, 0), progressBarWidth)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", progressBarWidth-n) + "]"
}

// progressLine shows a changing status: on a terminal one line redrawn in
// place, elsewhere (a pipe, a log) one line per change; nothing when quiet.
type progressLine struct {
	w      io.Writer
	redraw bool
	quiet  bool
	last   string
	drawn  bool
}

// show writes line unless it is empty or unchanged.
func (p *progressLine) show(line string) {
	if p.quiet || line == "" || line == p.last {
		return
	}
	p.last = line
	if p.redraw {
		printf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, safe(line))
}

// end finishes a redrawn line, so what follows starts on its own line.
func (p *progressLine) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// isTerminal reports whether w is a terminal (a character device), where a
// progress line may be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
