package labtest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkLab_HostFailover measures the time from killing a host that runs 3
// HA guests (lab.sh kill: agent, libvirtd, virtlogd and QEMUs at once) to all
// 3 guests' domains running on other hosts, as the witness sees them, with the
// agents' default HA timings. Each round kills a host that is not the leader,
// then restarts it and deletes the guests. The witness runs throughout: a
// double run fails the benchmark. Target: at most 20 s.
//
//	go test -tags libvirt_dlopen -count=1 -run '^$' -bench HostFailover -timeout 30m ./labtest/
func BenchmarkLab_HostFailover(b *testing.B) {
	l := needLab(b)
	const guests = 3
	rounds := samples(b, 3)
	w := l.startWitness(b)
	var took []time.Duration
	b.ResetTimer()
	for r := range rounds {
		b.StopTimer()
		c0 := l.client(b)
		victim := l.victimHost(b, c0)
		c := l.client(b, victim.Name)
		ps := l.guestsOn(b, c, victim, fmt.Sprintf("bench-ha%d-", r), guests)
		for _, p := range ps {
			p.Host.waitTicks(b, p.Domain, 1, bootTimeout)
		}
		w.waitRounds(b, 5)
		w.expectDown(victim.Name)
		b.StartTimer()
		killedAt := l.killHost(b, victim)
		moved := l.waitRunningElsewhere(b, w, ps, victim, killedAt, failoverTimeout)
		b.StopTimer()
		var all time.Duration
		for _, m := range moved {
			all = max(all, m.Took)
		}
		took = append(took, all)
		rec := checkFailoverRecord(b, c, victim, moved)
		restarted := "no record"
		if rec != nil {
			restarted = fmt.Sprintf("restart ordered %.2fs after the last renewal", float64(rec.RestartedAfterMs)/1000)
		}
		b.Logf("round %d: killed %s; all %d guests running elsewhere after %.2fs (%s)", r+1, victim.Name, guests, all.Seconds(), restarted)

		l.restartHost(b, victim)
		w.expectUp(victim.Name)
		for _, m := range moved {
			l.deleteVM(b, m.ID)
		}
	}
	rep := w.report(b)
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "host-failover-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "host-failover-max-s")
	b.ReportMetric(float64(rep.Doubles), "double-runs")
	b.Logf("host kill to %d guests running elsewhere, %d rounds (s): %v; witness %d samples, %d double runs",
		guests, len(took), took, rep.Samples, rep.Doubles)
	if took[len(took)/2] > failoverTarget {
		b.Logf("median %.2fs is above the %s target", took[len(took)/2].Seconds(), failoverTarget)
	}
}
