package labtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Deadlines of migrations in the lab: a 96 MiB idle guest moves in a second or
// two under TCG; a throttled or queued one takes longer.
const (
	migrateTimeout = 90 * time.Second
	drainTimeout   = 3 * time.Minute
)

// bootBanner is the first line the guest's kernel prints on its serial console:
// a log that has it saw the guest boot.
const bootBanner = "Linux version"

// migrationStateOrder ranks migration states; a record never goes back.
var migrationStateOrder = map[string]int{
	client.MigrationPending: 0, client.MigrationPreparing: 1, client.MigrationRunning: 2,
	client.MigrationCompleted: 3, client.MigrationFailed: 3, client.MigrationCancelled: 3,
}

// migrationWatch is what following a migration record saw.
type migrationWatch struct {
	final *client.Migration
	// states are the distinct states seen, in order.
	states []string
	// progress is the running record with the most data processed seen, nil
	// when none showed any.
	progress *client.Migration
	// completedAt is when the first answer showing the record final came.
	completedAt time.Time
}

// followMigration polls the migration every interval until it is final and
// checks that its state only goes forward.
func followMigration(tb testing.TB, c *client.Client, id string, timeout, interval time.Duration) migrationWatch {
	tb.Helper()
	var w migrationWatch
	testutil.EventuallyEvery(tb, timeout, interval, "migration "+id+" to end", func() error {
		m, err := c.Migration(context.Background(), id)
		if err != nil {
			return err
		}
		if n := len(w.states); n == 0 || w.states[n-1] != m.State {
			if n > 0 && migrationStateOrder[m.State] < migrationStateOrder[w.states[n-1]] {
				tb.Fatalf("migration %s went back from %s to %s (states so far %v)", id, w.states[n-1], m.State, w.states)
			}
			w.states = append(w.states, m.State)
		}
		if m.State == client.MigrationRunning && m.Progress != nil && m.Progress.DataProcessed > 0 &&
			(w.progress == nil || m.Progress.DataProcessed > w.progress.Progress.DataProcessed) {
			w.progress = m
		}
		if !client.MigrationFinal(m.State) {
			return fmt.Errorf("migration %s is %s (progress %+v)", id, m.State, m.Progress)
		}
		w.final, w.completedAt = m, time.Now()
		return nil
	})
	return w
}

// waitMigrationRunning waits until the migration copies and has reported data
// moved, and returns that record.
func waitMigrationRunning(tb testing.TB, c *client.Client, id string, timeout time.Duration) *client.Migration {
	tb.Helper()
	var got *client.Migration
	testutil.Eventually(tb, timeout, "migration "+id+" running with progress", func() error {
		m, err := c.Migration(context.Background(), id)
		if err != nil {
			return err
		}
		if client.MigrationFinal(m.State) {
			tb.Fatalf("migration %s ended (%s: %q) before it was seen copying", id, m.State, m.Error)
		}
		if m.State != client.MigrationRunning || m.Progress == nil || m.Progress.DataProcessed == 0 {
			return fmt.Errorf("migration %s is %s, progress %+v", id, m.State, m.Progress)
		}
		got = m
		return nil
	})
	return got
}

// otherHost is the first lab host that is not h.
func (l *lab) otherHost(h *labHost) *labHost {
	for _, o := range l.hosts {
		if o != h {
			return o
		}
	}
	return nil
}

// readTicks reads the guest's ticks in a serial log, nil when there is no log.
func readTicks(path string) []int {
	ts, err := ticks(path, 0)
	if err != nil {
		return nil
	}
	return ts
}

// lastTick is the last tick in a serial log, 0 when there is none.
func lastTick(path string) int {
	ts := readTicks(path)
	if len(ts) == 0 {
		return 0
	}
	return ts[len(ts)-1]
}

// counting checks that ts goes up by one from each line to the next: the guest
// did not reboot (a reboot starts again at 1) or lose time in between.
func counting(ts []int) error {
	for i := 1; i < len(ts); i++ {
		if ts[i] != ts[i-1]+1 {
			return fmt.Errorf("tick %d follows tick %d (ticks %v)", ts[i], ts[i-1], ts)
		}
	}
	return nil
}

// guestContinued checks, after the guest's domain moved from src to dst, that
// the guest on dst carries on counting where it stopped on src (see
// continuedOn). src's log must show the kernel boot banner, which shows the
// check could see a boot.
func guestContinued(src, dst *labHost, domain string, want, maxGap int) error {
	srcLog, err := os.ReadFile(src.serialLog(domain))
	if err != nil {
		return err
	}
	if !bytes.Contains(srcLog, []byte(bootBanner)) {
		return fmt.Errorf("%s's serial log of %s has no %q: cannot tell a boot on %s", src.Name, domain, bootBanner, dst.Name)
	}
	return continuedOn(src, dst, domain, want, maxGap)
}

// continuedOn checks that dst's serial log of the domain (virtlogd on dst
// writes it afresh when the incoming QEMU starts) has at least want ticks, the
// first above the last src printed and no more than maxGap above it, each one
// more than the last, and no kernel boot banner.
func continuedOn(src, dst *labHost, domain string, want, maxGap int) error {
	dstLog, err := os.ReadFile(dst.serialLog(domain))
	if err != nil {
		return err
	}
	if bytes.Contains(dstLog, []byte(bootBanner)) {
		return fmt.Errorf("%s's serial log of %s has a kernel boot banner: the guest booted there", dst.Name, domain)
	}
	last := lastTick(src.serialLog(domain))
	ts := readTicks(dst.serialLog(domain))
	if len(ts) < want {
		return fmt.Errorf("%s shows ticks %v of %s so far (last on %s: %d), want %d", dst.Name, ts, domain, src.Name, last, want)
	}
	if ts[0] <= last || ts[0] > last+maxGap {
		return fmt.Errorf("the guest's first tick on %s is %d, its last on %s %d: want the count to go on (within %d)",
			dst.Name, ts[0], src.Name, last, maxGap)
	}
	return counting(ts)
}

// qemuOf lists the pids of every QEMU process on this machine that runs the
// domain, on any host.
func qemuOf(domain string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || !alive(pid) {
			continue
		}
		args, err := procArgs(pid)
		if err != nil || len(args) == 0 || !strings.Contains(args[0], "qemu") {
			continue
		}
		for _, a := range args {
			if strings.HasPrefix(a, "guest="+domain+",") || a == "guest="+domain {
				pids = append(pids, pid)
				break
			}
		}
	}
	slices.Sort(pids)
	return pids
}

// keepSettings reads the cluster settings and restores them when the test
// ends, rebalancing first: tests share the lab.
func keepSettings(tb testing.TB, c *client.Client) *client.Settings {
	tb.Helper()
	s, err := c.Settings(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { restoreSettings(tb, c, s) })
	return s
}

// restoreSettings puts every setting back to s.
func restoreSettings(tb testing.TB, c *client.Client, s *client.Settings) {
	tb.Helper()
	r := s.Rebalance
	if _, err := c.UpdateSettings(context.Background(), client.SettingsUpdate{
		Strategy: &s.Strategy, CPUOvercommit: &s.CPUOvercommit, MemoryOvercommit: &s.MemoryOvercommit,
		MaxMigrationsPerHost: &s.MaxMigrationsPerHost, MaxMigrationsPerCluster: &s.MaxMigrationsPerCluster,
		Rebalance: &client.RebalanceSettingsUpdate{Mode: &r.Mode, Threshold: &r.Threshold, MinGain: &r.MinGain,
			MaxMoves: &r.MaxMoves, CooldownSeconds: &r.CooldownSeconds, IntervalSeconds: &r.IntervalSeconds},
	}); err != nil {
		tb.Errorf("cleanup: restore the settings %+v: %v", *s, err)
	}
}

// ptr returns a pointer to v, for settings updates.
func ptr[T any](v T) *T { return &v }

// rawPost posts body as is to the lab's API at path and returns the status and
// the answer: for bodies the typed client cannot send.
func (l *lab) rawPost(tb testing.TB, path, body string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.addr+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	cfg, err := l.tlsConfig()
	if err != nil {
		tb.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// oneAtATime is the per-host migration bound the drain and rebalancing tests
// set, and then check held on real hosts (serialized): the concurrency bound
// at work, with several migrations queued at once.
const oneAtATime = 1

// serialized checks that no two of the migrations that share a host (as
// source or target) copied at the same time: the per-host bound of one held.
func serialized(ms []client.Migration) error {
	for i, a := range ms {
		for _, b := range ms[i+1:] {
			if a.StartedAt == nil || b.StartedAt == nil || a.FinishedAt == nil || b.FinishedAt == nil {
				continue
			}
			shared := a.Source == b.Source || a.Source == b.Target || a.Target == b.Source || a.Target == b.Target
			if shared && a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt) {
				return fmt.Errorf("migrations %s (%s to %s, %s to %s) and %s (%s to %s, %s to %s) overlap on a host allowed one at a time",
					a.ID, a.SourceName, a.TargetName, a.StartedAt.Format(time.StampMilli), a.FinishedAt.Format(time.StampMilli),
					b.ID, b.SourceName, b.TargetName, b.StartedAt.Format(time.StampMilli), b.FinishedAt.Format(time.StampMilli))
			}
		}
	}
	return nil
}

// asAPIError is errors.As for the API's error answers.
func asAPIError(err error, out **client.APIError) bool { return errors.As(err, out) }

// apiErrorOf reads an error answer rawPost got.
func apiErrorOf(status int, body string) error {
	var b client.ErrorBody
	_ = json.Unmarshal([]byte(body), &b)
	return &client.APIError{Status: status, Code: b.Error.Code, Message: b.Error.Message}
}
