package cluster

import (
	"log/slog"
	"sync"

	"github.com/novacron/novacron/fsm"
)

// Gossip metadata carries the URIs other hosts open to migrate to a node:
// its libvirt URI and its migration stream URI (package peeruri says which
// are safe). When the leader records a member it checks them with its own
// policy and logs a refusal, once, naming the node, the URI and the rule.
//
// It records the node all the same, as gossip has it. The URIs matter only
// to live migrations: every source host checks them again and refuses to
// migrate (package host), and the leader's choice of migration targets skips
// the node (package control). Refusing the member itself would turn a
// configuration mistake, or an upgrade from a version that published
// qemu:///system, into a host whose record stops being refreshed and whose
// guests the cluster may then restart elsewhere; nothing new goes into the
// cluster state either, so the record shows exactly what the node publishes.

// peerURIWarnings remembers, per member name, the refusal last logged. The
// zero value is ready.
type peerURIWarnings struct {
	mu   sync.Mutex
	last map[string]string
}

// checkPeerURIs checks the URIs node n (a member being recorded) publishes
// and logs a refusal when it is new for that member, and when one is lifted.
func (a *Agent) checkPeerURIs(n fsm.Node, logger *slog.Logger) {
	why := ""
	if err := a.cfg.PeerURIs.Check(n); err != nil {
		why = err.Error()
	}
	w := &a.peerURIWarnings
	w.mu.Lock()
	before, had := w.last[n.Name]
	switch {
	case why == "":
		delete(w.last, n.Name)
	case w.last == nil:
		w.last = map[string]string{n.Name: why}
	default:
		w.last[n.Name] = why
	}
	w.mu.Unlock()
	switch {
	case why != "" && why != before:
		logger.Warn("member publishes URIs no host will migrate to: recorded, but not a migration target", "reason", why)
	case why == "" && had:
		logger.Info("member's published URIs are accepted again", "uri", n.Hypervisor.URI, "migrate_uri", n.Hypervisor.MigrateURI)
	}
}
