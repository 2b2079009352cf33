package host

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/guard"
)

// The fencing guard (package guard) is a process of its own, started with the
// agent, that fences this host's HA domains through libvirt when the lease
// ends, even while this agent is frozen or dead: with libvirt, QEMU keeps
// running when the agent hangs, and the leader restarts the HA VMs elsewhere
// once the lease has surely ended. The agent shares only a lease file with it:
// each renewal moves the guard's deadline, and the side file tells it what to
// do with each managed domain. A guard that dies or hangs makes the agent
// fence by itself (and start another); an agent and guard that both hang are
// what the hardware watchdog is for: the guard pets it, so it resets the host.

// GuardConfig starts the guard; an empty Exe runs none (the sim hypervisor,
// whose domains live in the agent's own process).
type GuardConfig struct {
	// Exe is the novacron binary; the guard runs as `Exe guard ...`.
	Exe string
	// LeasePath is the lease file shared with the guard (on tmpfs: it is
	// written every renewal).
	LeasePath string
	// LibvirtURI is the hypervisor the guard connects to on its own.
	LibvirtURI string
}

// guardAliveAge is how old the guard's heartbeat may be before the agent
// counts it dead (it beats every 100 ms).
const guardAliveAge = time.Second

// guardLink is the agent's side of the guard.
type guardLink struct {
	cfg      GuardConfig
	watchdog string
	lease    *guard.Lease

	mu   sync.Mutex
	proc *guard.Process
	// domains is what the side file says now, by domain ID.
	domains map[string]guard.Domain
}

// startGuard opens the lease file and starts the guard, and waits for its
// first heartbeat: the host runs nothing unguarded.
func startGuard(cfg GuardConfig, watchdog string) (*guardLink, error) {
	l, err := guard.OpenLease(cfg.LeasePath)
	if err != nil {
		return nil, err
	}
	// Start from the list an earlier agent left: until the reconciler has
	// looked at every domain, the guard must not take a running non-HA domain
	// for one it does not know (it destroys those, as the agent's own fence
	// does).
	doms, err := l.Domains()
	if err != nil {
		doms = map[string]guard.Domain{}
	}
	g := &guardLink{cfg: cfg, watchdog: watchdog, lease: l, domains: doms}
	if err := g.spawn(); err != nil {
		l.Close()
		return nil, err
	}
	return g, nil
}

func (g *guardLink) spawn() error {
	args := []string{"guard", "--lease", g.cfg.LeasePath, "--libvirt-uri", g.cfg.LibvirtURI}
	if g.watchdog != "" {
		args = append(args, "--watchdog", g.watchdog)
	}
	p, err := guard.Spawn(g.lease, g.cfg.Exe, args...)
	if err != nil {
		return err
	}
	if err := p.WaitAlive(10 * time.Second); err != nil {
		p.Kill()
		<-p.Done()
		return fmt.Errorf("fencing guard: %w", err)
	}
	g.mu.Lock()
	g.proc = p
	g.mu.Unlock()
	return nil
}

// alive reports whether the guard beats.
func (g *guardLink) alive() bool {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	select {
	case <-p.Done():
		return false
	default:
	}
	return g.lease.GuardAlive(guardAliveAge)
}

// restart kills a guard that hangs (only one process may hold the watchdog)
// and starts another.
func (g *guardLink) restart() error {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	p.Kill()
	<-p.Done()
	return g.spawn()
}

// renew moves the guard's deadline with the host's own lease.
func (g *guardLink) renew(until time.Time) { g.lease.Renew(until) }

// track tells the guard what to do with vm's domain when it fences, before
// the domain starts: its fence action if it is HA, else keep it.
func (g *guardLink) track(vm *fsm.VM) error {
	d := guard.Domain{ID: vm.ID, Name: vm.Spec.Name, Action: guard.ActionKeep}
	if vm.Spec.HAEnabled() {
		d.Action = vm.Spec.EffectiveFenceAction()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.domains[vm.ID] == d {
		return nil
	}
	g.domains[vm.ID] = d
	return g.write()
}

// forget drops a domain that was removed from this host.
func (g *guardLink) forget(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.domains[id]; ok {
		delete(g.domains, id)
		g.write()
	}
}

// write replaces the side file with the list; called with mu held.
func (g *guardLink) write() error {
	list := make([]guard.Domain, 0, len(g.domains))
	for _, d := range g.domains {
		list = append(list, d)
	}
	slices.SortFunc(list, func(a, b guard.Domain) int { return strings.Compare(a.ID, b.ID) })
	return g.lease.SetDomains(list)
}

// stop is the agent's clean stop: the guard exits without fencing. The
// domains keep running, and a restarted agent takes the lease over with the
// deadline it left (the leader counts from the last renewal it saw).
func (g *guardLink) stop() {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	p.Stop(5 * time.Second)
	g.lease.Close()
}
