package labtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	nclibvirt "github.com/novacron/novacron/hypervisor/libvirt"
	"github.com/novacron/novacron/internal/testutil"
)

// The witness watches every lab host's libvirt during a chaos test, apart from
// NovaCron, and fails the test if a VM ever runs on two hosts at once.
//
// Every witnessInterval it runs a round. Each host is asked, over a libvirt
// connection of its own kept open for the whole test, for the state of all its
// active domains (one virConnectGetAllDomainStats call); the hosts are asked
// in parallel. A domain's UUID is its VM's ID. For every domain it counts as
// active, the witness also reads the pid of its QEMU (the host's pid file)
// and, every round, checks that this very process still runs (pid and start
// time in /proc). A VM is running on a host in a round when the host's latest
// answer has it active and its QEMU still runs. A round in which one VM runs
// on two hosts is a double run. (While libvirtd tears a domain down, an answer
// may still show it running after its QEMU has exited and its pid file is
// gone; the QEMU check is what is right then. A domain shown active with no
// QEMU for noQEMULimit answers in a row fails the test: the witness would be
// blind to it.)
//
// What counts as active (the guest may be executing on that host):
//   - running, blocked, shutting down, pm-suspended: active;
//   - paused: active, unless the reason is "migration" (a live migration's
//     incoming side before the switch-over, or its source after it),
//     "post-copy" (the source once the destination runs the guest) or
//     "starting up" (QEMU started, the guest's CPUs not yet);
//   - shut off, crashed, no state: not active.
//
// A libvirtd holds its answer while it destroys a domain (1.5 s or more under
// TCG), and the moment a destroy is under way is exactly what the witness must
// see. So a round waits at most witnessRoundWait for the hosts; one that has
// not answered yet keeps its previous answer, filtered by the QEMU check: its
// domains count as running as long as their QEMU runs (conservative: a QEMU
// being destroyed may still execute its guest), and stop counting the moment
// their QEMU is gone. A killed host's libvirtd does not answer at all: its
// domains stop counting when its QEMUs die with it, which the witness sees
// rather than assumes. A test declares the hosts it kills (expectDown); a host
// that does not answer otherwise fails the test.

// witnessInterval is how often a round starts: twice the required 10 Hz, so a
// slow round on a loaded machine still keeps the rate.
const witnessInterval = 50 * time.Millisecond

// witnessRoundWait is how long a round waits for the hosts' answers.
const witnessRoundWait = 100 * time.Millisecond

// witnessMinRate is the rate, in rounds and in libvirt answers per host, below
// which the test fails.
const witnessMinRate = 10.0

// domView is one active domain in a host's answer.
type domView struct {
	name, state string
	pid         int    // its QEMU, 0 when no QEMU runs for it (no pid file, or a dead pid)
	pidStart    uint64 // the QEMU's start time (/proc/PID/stat field 22)
}

// libvirtSample is one libvirt call to a host.
type libvirtSample struct {
	Start, End time.Time
	Err        error
	Active     int // domains active in the answer
}

// doubleRun is a round in which one VM ran on more than one host.
type doubleRun struct {
	Round int
	At    time.Time
	VMID  string
	Hosts []string // with their states
}

// activeSpan is a run of consecutive rounds in which a VM ran on a host.
type activeSpan struct{ First, Last time.Time }

// hostWatch is the witness's view of one host. conn belongs to the sampling
// goroutine in flight; the other fields are guarded by witness.mu.
type hostWatch struct {
	h    *labHost
	conn *golibvirt.Connect

	busy    bool               // a libvirt call is in flight
	view    map[string]domView // active domains in the latest answer, by VM ID
	viewAt  time.Time
	samples []libvirtSample
	// failures counts calls without an answer; unexpected those while the host
	// was not declared down.
	failures, unexpected int
	lastErr              error
	// stale counts rounds that used an answer from an earlier round.
	stale int
	// noQEMU counts, per VM, the answers in a row that had it active with no
	// QEMU running for it: normal for one or two answers while libvirtd tears
	// a domain down, a blind witness if it lasts (blind lists those VMs).
	noQEMU map[string]int
	blind  []string
}

// noQEMULimit is how many answers in a row may show a domain active without
// its QEMU before the witness declares itself blind for that VM.
const noQEMULimit = 10

// witness is the sampler; its fields after start are guarded by mu.
type witness struct {
	hosts []*hostWatch

	stopCh chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	answered chan struct{} // signalled by every libvirt answer
	start    time.Time
	end      time.Time
	rounds   int
	roundAt  []time.Time
	down     map[string]bool
	doubles  []doubleRun
	nDouble  int
	spans    map[string]map[string][]activeSpan // VM ID -> host -> spans
	latest   map[string][]string                // VM ID -> hosts it ran on in the last round
	stopped  bool
	reported bool
}

// startWitness starts a witness over every lab host and stops it when the test
// ends, reporting (and failing on) what it saw if the test did not call
// report itself.
func (l *lab) startWitness(tb testing.TB) *witness {
	tb.Helper()
	if err := nclibvirt.Available(); err != nil {
		tb.Fatalf("witness: %v", err)
	}
	w := &witness{
		stopCh: make(chan struct{}), done: make(chan struct{}), answered: make(chan struct{}, 64),
		down: map[string]bool{}, spans: map[string]map[string][]activeSpan{}, latest: map[string][]string{},
	}
	for _, h := range l.hosts {
		w.hosts = append(w.hosts, &hostWatch{h: h, view: map[string]domView{}, noQEMU: map[string]int{}})
	}
	w.start = time.Now()
	go w.loop()
	tb.Cleanup(func() { w.report(tb) })
	return w
}

// expectDown declares that the host is about to be killed: from now on its
// libvirtd not answering is expected.
func (w *witness) expectDown(name string) {
	w.mu.Lock()
	w.down[name] = true
	w.mu.Unlock()
}

// expectUp declares that the host's libvirtd answers again.
func (w *witness) expectUp(name string) {
	w.mu.Lock()
	delete(w.down, name)
	w.mu.Unlock()
}

func (w *witness) loop() {
	defer close(w.done)
	ticker := time.NewTicker(witnessInterval)
	defer ticker.Stop()
	for {
		w.round()
		select {
		case <-w.stopCh:
			w.closeConns()
			return
		case <-ticker.C:
		}
	}
}

// closeConns closes the connections once no call is in flight on them (a call
// stuck in a libvirtd ends within seconds: keepalive).
func (w *witness) closeConns() {
	start := time.Now()
	for _, hw := range w.hosts {
		// A call still stuck when the 10 s are up keeps its connection.
		testutil.Poll(max(0, 10*time.Second-time.Since(start)), 10*time.Millisecond, func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if hw.busy {
				return errors.New("call in flight")
			}
			return nil
		})
		w.mu.Lock()
		if !hw.busy && hw.conn != nil {
			_, _ = hw.conn.Close()
			hw.conn = nil
		}
		w.mu.Unlock()
	}
}

// round asks every host that is not still busy with an earlier call, waits up
// to witnessRoundWait for the answers, and checks what runs where.
func (w *witness) round() {
	w.mu.Lock()
	var asked []*hostWatch
	for _, hw := range w.hosts {
		if !hw.busy {
			hw.busy = true
			asked = append(asked, hw)
		}
	}
	w.mu.Unlock()
	roundStart := time.Now()
	for _, hw := range asked {
		go w.ask(hw)
	}
	timer := time.NewTimer(witnessRoundWait)
	defer timer.Stop()
	for waiting := true; waiting; {
		w.mu.Lock()
		pending := 0
		for _, hw := range asked {
			if hw.busy {
				pending++
			}
		}
		w.mu.Unlock()
		if pending == 0 {
			break
		}
		select {
		case <-w.answered:
		case <-timer.C:
			waiting = false
		}
	}

	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rounds++
	w.roundAt = append(w.roundAt, now)
	where := map[string][]string{}
	states := map[string]map[string]string{}
	for _, hw := range w.hosts {
		if hw.viewAt.Before(roundStart) {
			hw.stale++
		}
		for id, d := range hw.view {
			if !w.qemuRuns(d) {
				continue
			}
			where[id] = append(where[id], hw.h.Name)
			if states[id] == nil {
				states[id] = map[string]string{}
			}
			states[id][hw.h.Name] = fmt.Sprintf("%s, QEMU %d, answer of %s", d.state, d.pid, hw.viewAt.Format("15:04:05.000"))
		}
	}
	for id, hosts := range where {
		if len(hosts) < 2 {
			continue
		}
		w.nDouble++
		if len(w.doubles) < 20 {
			var desc []string
			for _, h := range hosts {
				desc = append(desc, fmt.Sprintf("%s (%s)", h, states[id][h]))
			}
			w.doubles = append(w.doubles, doubleRun{Round: w.rounds, At: now, VMID: id, Hosts: desc})
		}
	}
	for id, hosts := range where {
		byHost := w.spans[id]
		if byHost == nil {
			byHost = map[string][]activeSpan{}
			w.spans[id] = byHost
		}
		for _, h := range hosts {
			sp := byHost[h]
			if n := len(sp); n > 0 && slices.Contains(w.latest[id], h) {
				sp[n-1].Last = now
			} else {
				byHost[h] = append(sp, activeSpan{First: now, Last: now})
			}
		}
	}
	w.latest = where
}

// qemuRuns says whether the domain's QEMU process still runs: the same pid
// with the same start time.
func (w *witness) qemuRuns(d domView) bool {
	if d.pid == 0 {
		return false
	}
	start, ok := procStart(d.pid)
	return ok && start == d.pidStart
}

// procStart reads a running (not zombie) process's start time.
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field 22 (starttime) is f[19].
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

// ask makes one libvirt call to the host and records the answer.
func (w *witness) ask(hw *hostWatch) {
	s, view := hw.sample()
	w.mu.Lock()
	hw.busy = false
	hw.samples = append(hw.samples, s)
	if s.Err != nil {
		hw.failures++
		hw.lastErr = s.Err
		if !w.down[hw.h.Name] {
			hw.unexpected++
		}
	} else {
		hw.view, hw.viewAt = view, s.End
		for id, d := range view {
			if d.pid != 0 {
				delete(hw.noQEMU, id)
				continue
			}
			if hw.noQEMU[id]++; hw.noQEMU[id] == noQEMULimit {
				hw.blind = append(hw.blind, fmt.Sprintf("%s (%s, %s)", id, d.name, d.state))
			}
		}
		for id := range hw.noQEMU {
			if _, ok := view[id]; !ok {
				delete(hw.noQEMU, id)
			}
		}
	}
	w.mu.Unlock()
	select {
	case w.answered <- struct{}{}:
	default:
	}
}

// sample asks the host for its active domains, connecting first if needed.
func (hw *hostWatch) sample() (libvirtSample, map[string]domView) {
	s := libvirtSample{Start: time.Now()}
	if hw.conn == nil {
		c, err := golibvirt.NewConnect(hw.h.URI)
		if err != nil {
			s.Err, s.End = err, time.Now()
			return s, nil
		}
		// A daemon that stops answering without closing the socket (it never
		// should here) is declared dead within about 4 s, not never.
		_ = c.SetKeepAlive(1, 3)
		hw.conn = c
	}
	stats, err := hw.conn.GetAllDomainStats(nil, golibvirt.DOMAIN_STATS_STATE, golibvirt.CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
	s.End = time.Now()
	if err != nil {
		_, _ = hw.conn.Close()
		hw.conn = nil
		s.Err = err
		return s, nil
	}
	view := map[string]domView{}
	for _, st := range stats {
		id, uerr := st.Domain.GetUUIDString()
		name, nerr := st.Domain.GetName()
		_ = st.Domain.Free()
		if uerr != nil || nerr != nil || st.State == nil {
			continue
		}
		desc, active := domainActive(st.State.State, st.State.Reason)
		if !active {
			continue
		}
		d := domView{name: name, state: desc}
		if pid, err := readPidFile(filepath.Join(hw.h.Dir, "run", "qemu", name+".pid")); err == nil {
			if start, ok := procStart(pid); ok {
				d.pid, d.pidStart = pid, start
			}
		}
		view[strings.ToLower(id)] = d
	}
	s.Active = len(view)
	return s, view
}

// domainActive says whether a domain in this state may be executing its guest
// (see the rule at the top of this file), with the state for messages.
func domainActive(state golibvirt.DomainState, reason int) (string, bool) {
	switch state {
	case golibvirt.DOMAIN_RUNNING:
		return "running", true
	case golibvirt.DOMAIN_BLOCKED:
		return "blocked", true
	case golibvirt.DOMAIN_SHUTDOWN:
		return "shutting down", true
	case golibvirt.DOMAIN_PMSUSPENDED:
		return "pm-suspended", true
	case golibvirt.DOMAIN_PAUSED:
		switch golibvirt.DomainPausedReason(reason) {
		case golibvirt.DOMAIN_PAUSED_MIGRATION:
			return "paused (migration)", false
		case golibvirt.DOMAIN_PAUSED_POSTCOPY:
			return "paused (post-copy)", false
		case golibvirt.DOMAIN_PAUSED_STARTING_UP:
			return "paused (starting up)", false
		}
		return fmt.Sprintf("paused (reason %d)", reason), true
	case golibvirt.DOMAIN_SHUTOFF:
		return "shut off", false
	case golibvirt.DOMAIN_CRASHED:
		return "crashed", false
	}
	return fmt.Sprintf("state %d", state), false
}
