package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/novacron/novacron/api/client"
)

// progressBarWidth is the number of cells of a progress bar.
const progressBarWidth = 30

// watchMigration follows migration m's operation until it ends, showing
// its progress, then prints libvirt's figures from the migration's record.
// It fails when the migration failed or was cancelled, so the command exits
// with 1. Every read waits for the index of the write that created m, so a
// follower answers it too.
func (a *app) watchMigration(ctx context.Context, c *client.Client, m *client.Migration) error {
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := a.newOpProgress(fmt.Sprintf("migrating %s to %s", m.VMName, nameOr(m.TargetName, m.Target)))
	_, err := a.followOperation(ctx, rc, m.ID, p, nil)
	p.end()
	if ctx.Err() != nil {
		return fmt.Errorf("stopped watching migration %s (%w); it goes on: follow it with 'novacron migration show %s'", m.ID, ctx.Err(), m.ID)
	}
	if err != nil {
		return err
	}
	cur, err := rc.Migration(ctx, m.ID)
	if err != nil {
		return err
	}
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
	case client.MigrationFailed:
		return fmt.Errorf("migration %s failed: %s; %s stays on %s", cur.ID, orDash(cur.Error), cur.VMName, nameOr(cur.SourceName, cur.Source))
	}
	return fmt.Errorf("migration %s is %s, yet its operation ended; follow it with 'novacron migration show %s'", cur.ID, cur.State, cur.ID)
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
