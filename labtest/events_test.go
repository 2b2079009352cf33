package labtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// eventWatch follows the lifecycle events of every lab host with
// `virsh event --loop --timestamp` and keeps when each domain first had each
// kind of event (Started, Stopped, ...). The timestamps are virsh's own, taken
// when the event reached it, as it reaches the agent, so neither pipe buffering
// nor polling delays the measurement.
type eventWatch struct {
	mu    sync.Mutex
	first map[string]time.Time // "domain/Kind" -> first such event
	seen  map[string]bool      // domain names with any event
	cmds  []*exec.Cmd
}

// eventLineRE matches `2026-01-02 15:04:05.123+0000: event 'lifecycle' for
// domain 'NAME': Started Booted`.
var eventLineRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d{4}): event 'lifecycle' for domain '([^']+)': (\w+)`)

func (l *lab) watchEvents(tb testing.TB) *eventWatch {
	tb.Helper()
	w := &eventWatch{first: map[string]time.Time{}, seen: map[string]bool{}}
	for _, h := range l.hosts {
		cmd := exec.Command("virsh", "-q", "-c", h.URI, "event", "--loop", "--event", "lifecycle", "--timestamp")
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("%s: virsh event: %v", h.Name, err)
		}
		w.cmds = append(w.cmds, cmd)
		go w.read(bufio.NewScanner(out))
	}
	tb.Cleanup(func() {
		for _, cmd := range w.cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	// virsh prints nothing once it listens: define and undefine a probe domain
	// on every host until its events show that every watcher is attached.
	for _, h := range l.hosts {
		probe := "labtest-event-probe-" + h.Name
		xml := filepath.Join(l.Dir, probe+".xml")
		doc := "<domain type='qemu'><name>" + probe + "</name><memory unit='MiB'>16</memory>" +
			"<os><type arch='x86_64'>hvm</type></os></domain>"
		if err := os.WriteFile(xml, []byte(doc), 0o600); err != nil {
			tb.Fatal(err)
		}
		testutil.EventuallyEvery(tb, 20*time.Second, 200*time.Millisecond, h.Name+"'s event watcher to attach", func() error {
			if w.saw(probe) {
				return nil
			}
			if _, err := h.virsh("define", xml); err != nil {
				return err
			}
			_, err := h.virsh("undefine", probe)
			return err
		})
		if names, err := h.domainNames(); err == nil && slices.Contains(names, probe) {
			_, _ = h.virsh("undefine", probe)
		}
	}
	return w
}

func (w *eventWatch) read(sc *bufio.Scanner) {
	for sc.Scan() {
		m := eventLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04:05.000-0700", m[1])
		if err != nil {
			at = time.Now()
		}
		w.mu.Lock()
		w.seen[m[2]] = true
		if _, ok := w.first[m[2]+"/"+m[3]]; !ok {
			w.first[m[2]+"/"+m[3]] = at
		}
		w.mu.Unlock()
	}
}

// saw reports whether any event of the domain arrived.
func (w *eventWatch) saw(domain string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[domain]
}

// at is when the domain first had an event of kind (Started, Stopped, ...).
func (w *eventWatch) at(domain, kind string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.first[domain+"/"+kind]
	return at, ok
}

// waitEvent waits for the domain's first event of kind and returns its time.
func (w *eventWatch) waitEvent(tb testing.TB, domain, kind string, timeout time.Duration) time.Time {
	tb.Helper()
	testutil.EventuallyEvery(tb, timeout, 10*time.Millisecond, "a "+kind+" event of "+domain, func() error {
		if _, ok := w.at(domain, kind); !ok {
			return fmt.Errorf("no %s event of %s yet", kind, domain)
		}
		return nil
	})
	at, _ := w.at(domain, kind)
	return at
}
