package cluster

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/pki"
)

// Gossip is not authenticated by itself, so the leader checks a member's
// identity before it records it or adds it to Raft: its name may not take
// over another live node's ID, and, with TLS, the member's own API must
// present a node certificate of the cluster's CA that names it (a node's
// identity is the name in its certificate).

// refuseMember says why an alive gossip member must not be recorded, or "".
// A node restarted under a new name keeps its ID and is not refused: only a
// second live member holding the same ID under the recorded name is proof
// that one of them lies.
func (a *Agent) refuseMember(m member, existing fsm.Node, known bool) string {
	if known && existing.Name != m.Name {
		for _, o := range a.gossip.Members() {
			if o.Name == existing.Name && o.Meta.ID == m.Meta.ID && o.Status == fsm.NodeAlive {
				return fmt.Sprintf("claims the ID %s of the live node %q", m.Meta.ID, existing.Name)
			}
		}
	}
	if a.cfg.TLS == nil || m.Meta.ID == a.cfg.NodeID {
		return ""
	}
	return a.identities.verify(m, a.cfg.TLS)
}

// identities remembers the members whose certificate was checked, so a
// member's API is dialled once per address, not at every reconcile.
type identities struct {
	mu     sync.Mutex
	ok     map[string]string // member name -> the API address it proved itself on
	warned map[string]string // member name -> the last refusal logged
	// refused holds the members whose proof failed, so one is dialled again
	// only after refuseFor: the reconcile checks members one after another,
	// and gossip names are free, so many bogus members must not stall it.
	refused map[string]refusal
}

type refusal struct {
	api, why string
	until    time.Time
}

// refuseFor is how long a failed proof stands before the member's API is
// dialled again.
const refuseFor = 10 * time.Second

func newIdentities() *identities {
	return &identities{ok: map[string]string{}, warned: map[string]string{}, refused: map[string]refusal{}}
}

// verify dials the member's API and checks that its certificate is a node
// certificate of this CA naming the member; "" when it is.
func (ids *identities) verify(m member, cfg *tls.Config) string {
	ids.mu.Lock()
	proven := ids.ok[m.Name] == m.Meta.API && m.Meta.API != ""
	r, seen := ids.refused[m.Name]
	ids.mu.Unlock()
	switch {
	case proven:
		return ""
	case m.Meta.API == "":
		return "publishes no API address to prove its certificate on"
	case seen && r.api == m.Meta.API && time.Now().Before(r.until):
		return r.why
	}
	why := prove(m, cfg)
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if why != "" {
		ids.refused[m.Name] = refusal{api: m.Meta.API, why: why, until: time.Now().Add(refuseFor)}
		return why
	}
	ids.ok[m.Name] = m.Meta.API
	delete(ids.refused, m.Name)
	delete(ids.warned, m.Name)
	return ""
}

// prove dials the member's API and says why its certificate does not name
// it as a node of this cluster, or "".
func prove(m member, cfg *tls.Config) string {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", m.Meta.API, cfg)
	if err != nil {
		return fmt.Sprintf("its API %s did not prove a node certificate of this cluster: %v", m.Meta.API, err)
	}
	defer conn.Close()
	name, ok := pki.NodeName(conn.ConnectionState().PeerCertificates[0])
	switch {
	case !ok:
		return fmt.Sprintf("its API %s presents a certificate that is not a node's", m.Meta.API)
	case name != m.Name:
		return fmt.Sprintf("gossips as %q but its certificate names %q", m.Name, name)
	}
	return ""
}

// warnOnce logs a refusal when it is new for that member.
func (ids *identities) warnOnce(m member, why string, logger *slog.Logger) {
	ids.mu.Lock()
	fresh := ids.warned[m.Name] != why
	ids.warned[m.Name] = why
	ids.mu.Unlock()
	if fresh {
		logger.Warn("refusing gossip member: not recorded, not added to raft", "reason", why, "addr", m.Addr)
	}
}
