package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// jobInfoRE reads `virsh domjobinfo --completed`: "Time elapsed:  853  ms" and
// "Total downtime:  113  ms".
var (
	elapsedRE  = regexp.MustCompile(`(?m)^Time elapsed:\s+(\d+)\s*ms`)
	downtimeRE = regexp.MustCompile(`(?m)^Total downtime:\s+(\d+)\s*ms`)
)

// completedJob reads libvirt's figures of the domain's last completed job
// (the incoming migration) on host h, in ms.
func (h *labHost) completedJob(domain string) (total, downtime float64, err error) {
	out, err := h.virsh("domjobinfo", domain, "--completed")
	if err != nil {
		return 0, 0, err
	}
	t, d := elapsedRE.FindStringSubmatch(out), downtimeRE.FindStringSubmatch(out)
	if t == nil || d == nil {
		return 0, 0, fmt.Errorf("%s: domjobinfo %s --completed has no time elapsed or downtime:\n%s", h.Name, domain, out)
	}
	total, _ = strconv.ParseFloat(t[1], 64)
	downtime, _ = strconv.ParseFloat(d[1], 64)
	return total, downtime, nil
}

// foreignTwin defines and starts, with virsh alone, a copy of the VM's domain
// on host h under another name, without NovaCron's metadata: the same guest
// that no agent manages. It is destroyed and undefined wherever it is at the
// end.
func (l *lab) foreignTwin(b *testing.B, h *labHost, vmID, name string) {
	b.Helper()
	xml, err := h.virsh("dumpxml", "--inactive", vmID)
	if err != nil {
		b.Fatal(err)
	}
	old := regexp.MustCompile(`<name>([^<]+)</name>`).FindStringSubmatch(xml)
	if old == nil {
		b.Fatalf("domain xml of %s has no name:\n%s", vmID, xml)
	}
	xml = strings.ReplaceAll(xml, old[1], name) // its name and its serial log's
	xml = regexp.MustCompile(`<uuid>[^<]*</uuid>`).ReplaceAllString(xml, "")
	xml = regexp.MustCompile(`(?s)<metadata>.*?</metadata>`).ReplaceAllString(xml, "")
	file := filepath.Join(b.TempDir(), name+".xml")
	if err := os.WriteFile(file, []byte(xml), 0o600); err != nil {
		b.Fatal(err)
	}
	if _, err := h.virsh("define", file); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, o := range l.hosts {
			o.virsh("destroy", name)  //nolint:errcheck // not running there
			o.virsh("undefine", name) //nolint:errcheck // not defined there
		}
	})
	if _, err := h.virsh("start", name); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLab_LiveMigrationVsVirsh moves two identical idle guests (96 MiB,
// ticking) back and forth between two lab hosts in the same run: one a NovaCron
// VM through POST /api/v1/vms/{id}/migrate, the other a foreign twin of it
// (the same domain XML under another name, no NovaCron metadata) with
// `virsh migrate --live --persistent --undefinesource SRC DEST tcp://127.0.0.1`.
// Each round moves both the same way, alternating which goes first; the
// directions alternate between rounds. It reports the medians of libvirt's
// figures: the migration record's total and downtime for NovaCron, `virsh
// domjobinfo --completed` on the destination for virsh, their ratios, and the
// wall time from the POST to the first answer that shows the record completed.
func BenchmarkLab_LiveMigrationVsVirsh(b *testing.B) {
	l := needLab(b)
	c := l.client(b)
	a, other := l.hosts[0], l.hosts[1]
	req := l.guest(uniqueName("bench-mig"), "")
	req.Placement = &client.PlacementSpec{PreferredNodes: []string{a.Name}}
	vm := l.createVM(b, c, req)
	p := l.waitRunning(b, c, vm.ID, runTimeout)
	if p.Host != a {
		b.Fatalf("vm %s runs on %s, want %s", p.Name, p.Host.Name, a.Name)
	}
	twin := uniqueName("labtest-twin")
	l.foreignTwin(b, a, vm.ID, twin)
	a.waitTicks(b, p.Domain, 3, bootTimeout)
	a.waitTicks(b, twin, 3, bootTimeout)

	var ncTotal, ncDown, ncDestTotal, ncDestDown, vTotal, vDown, apiWall, virshWall []float64
	at := a
	novacron := func(from, to *labHost) {
		start := time.Now()
		m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: to.Name})
		if err != nil {
			b.Fatalf("migrate %s from %s to %s: %v", p.Name, from.Name, to.Name, err)
		}
		w := followMigration(b, c, m.ID, migrateTimeout, 20*time.Millisecond)
		if f := w.final; f.State != client.MigrationCompleted || f.Result == nil || f.Result.TotalMs <= 0 || f.Result.DowntimeMs <= 0 {
			b.Fatalf("migration %s ended %s (%q), result %+v", f.ID, f.State, f.Error, f.Result)
		}
		apiWall = append(apiWall, float64(w.completedAt.Sub(start).Microseconds())/1000)
		ncTotal = append(ncTotal, float64(w.final.Result.TotalMs))
		ncDown = append(ncDown, float64(w.final.Result.DowntimeMs))
		if t, d, err := to.completedJob(p.Domain); err == nil {
			ncDestTotal, ncDestDown = append(ncDestTotal, t), append(ncDestDown, d)
		} else {
			b.Logf("no completed job for the NovaCron vm on %s: %v", to.Name, err)
		}
		waitFor(b, 20*time.Second, virshPoll, "vm "+p.Name+" counting on "+to.Name+" only", func() error {
			if err := l.onlyOn(to, vm.ID, "running"); err != nil {
				return err
			}
			return continuedOn(from, to, p.Domain, 2, 3)
		})
	}
	plain := func(from, to *labHost) {
		start := time.Now()
		if _, err := from.virsh("migrate", "--live", "--persistent", "--undefinesource", twin, to.URI, "tcp://127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		virshWall = append(virshWall, float64(time.Since(start).Microseconds())/1000)
		t, d, err := to.completedJob(twin)
		if err != nil {
			b.Fatal(err)
		}
		vTotal, vDown = append(vTotal, t), append(vDown, d)
		waitFor(b, 20*time.Second, virshPoll, "the twin counting on "+to.Name+" only", func() error {
			if names, err := from.domainNames(); err != nil || slices.Contains(names, twin) {
				return fmt.Errorf("%s lists %v (%v)", from.Name, names, err)
			}
			if st, err := to.domState(twin); err != nil || st != "running" {
				return fmt.Errorf("twin on %s is %q (%v)", to.Name, st, err)
			}
			return continuedOn(from, to, twin, 2, 3)
		})
	}
	b.ResetTimer()
	for i := range samples(b, 5) {
		to := other
		if at == other {
			to = a
		}
		if i%2 == 0 {
			novacron(at, to)
			plain(at, to)
		} else {
			plain(at, to)
			novacron(at, to)
		}
		b.Logf("round %d, %s to %s: NovaCron total %.0f ms downtime %.0f ms (API to completed %.0f ms); virsh total %.0f ms downtime %.0f ms (command %.0f ms)",
			i+1, at.Name, to.Name, ncTotal[i], ncDown[i], apiWall[i], vTotal[i], vDown[i], virshWall[i])
		at = to
	}
	b.StopTimer()
	nt, nd, vt, vd := median(ncTotal), median(ncDown), median(vTotal), median(vDown)
	b.ReportMetric(nt, "novacron-total-ms")
	b.ReportMetric(nd, "novacron-downtime-ms")
	b.ReportMetric(vt, "virsh-total-ms")
	b.ReportMetric(vd, "virsh-downtime-ms")
	b.ReportMetric(nt/vt, "total-ratio")
	b.ReportMetric(nd/vd, "downtime-ratio")
	b.ReportMetric(median(apiWall), "api-to-completed-ms")
	b.ReportMetric(median(virshWall), "virsh-command-ms")
	if len(ncDestTotal) > 0 {
		b.Logf("the NovaCron moves as the destination's domjobinfo --completed saw them: total median %.0f ms %v, downtime median %.0f ms %v",
			median(ncDestTotal), ncDestTotal, median(ncDestDown), ncDestDown)
	}
	b.Logf("NovaCron total %v downtime %v; virsh total %v downtime %v (ms)", ncTotal, ncDown, vTotal, vDown)
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
