package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// The gossip keyring (fsm/keyring.go) under /api/v1/operator/gossip/keyring,
// for admins only: the listing shows the keys. A rotation is Consul's:
// install the new key, use it once every alive member holds it, remove the
// old one once no alive member encrypts with it. Each node publishes the
// fingerprints of the keys it holds in gossip, primary first, which is what
// the checks below read (this node's gossip view).

// getGossipKeyring lists the keys and which alive members hold each.
func (s *Server) getGossipKeyring(_ *http.Request, _ httprouter.Params) (any, error) {
	return s.keyringListing(), nil
}

// changeGossipKeyring installs, uses or removes a key. Every check Apply
// makes runs first, then the members' (use: every alive member holds the
// key; remove: none encrypts with it), so a refusal proposes nothing.
func (s *Server) changeGossipKeyring(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.GossipKeyringRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	switch req.Op {
	case client.KeyringInstall, client.KeyringUse, client.KeyringRemove:
	default:
		return nil, invalidf("op must be install, use or remove, got %q", req.Op)
	}
	key, err := fsm.CanonicalGossipKey(strings.TrimSpace(req.Key))
	if err != nil {
		return nil, err
	}
	cmd := fsm.GossipKeyring{Op: req.Op, Key: key, At: time.Now().UTC()}
	if err := s.state.CheckGossipKeyring(cmd); err != nil {
		return nil, err
	}
	fp := fsm.KeyFingerprintOf(key)
	alive := aliveMembers(s.cluster.Status())
	switch req.Op {
	case client.KeyringUse:
		if missing := membersWithout(alive, fp); len(missing) > 0 {
			return nil, errorf(fsm.ErrState, "gossip key %s is not installed on every alive member yet: %s lack it (%d of %d hold it); wait until `novacron operator gossip keyring list` shows it on every node",
				fp, strings.Join(missing, ", "), len(alive)-len(missing), len(alive))
		}
	case client.KeyringRemove:
		if using := membersEncryptingWith(alive, fp); len(using) > 0 {
			return nil, errorf(fsm.ErrState, "gossip key %s is still the primary key of %s; wait until every node uses the new primary key", fp, strings.Join(using, ", "))
		}
	}
	idx, err := s.cluster.Apply(r.Context(), &cmd)
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	// 202: the state holds the change; each node applies it to its gossip
	// right after, as the listing's counts show.
	return accepted(s.keyringListing(), idx), nil
}

// keyringListing is the state's keyring, primary first, with which alive
// members hold and use each key.
func (s *Server) keyringListing() client.GossipKeyring {
	kr := s.state.GossipKeyring()
	out := client.GossipKeyring{Encrypted: kr.Encrypted(), Primary: fsm.KeyFingerprintOf(kr.Primary), Keys: []client.GossipKey{}}
	alive := aliveMembers(s.cluster.Status())
	keys := slices.Clone(kr.Keys)
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case a == kr.Primary:
			return -1
		case b == kr.Primary:
			return 1
		}
		return 0
	})
	for _, key := range keys {
		fp := fsm.KeyFingerprintOf(key)
		missing := membersWithout(alive, fp)
		out.Keys = append(out.Keys, client.GossipKey{
			Key: key, Fingerprint: fp, Primary: key == kr.Primary,
			Nodes: len(alive) - len(missing), Of: len(alive), Missing: missing,
			PrimaryOn: membersEncryptingWith(alive, fp),
		})
	}
	return out
}

// aliveMembers are the members this node's gossip sees alive.
func aliveMembers(st cluster.Status) []cluster.MemberStatus {
	var out []cluster.MemberStatus
	for _, m := range st.Members {
		if m.Status == string(fsm.NodeAlive) {
			out = append(out, m)
		}
	}
	return out
}

// membersWithout names the members that do not publish fingerprint fp.
func membersWithout(members []cluster.MemberStatus, fp string) []string {
	var out []string
	for _, m := range members {
		if !slices.Contains(m.GossipKeys, fp) {
			out = append(out, memberName(m))
		}
	}
	return out
}

// membersEncryptingWith names the members whose primary key is fp.
func membersEncryptingWith(members []cluster.MemberStatus, fp string) []string {
	var out []string
	for _, m := range members {
		if len(m.GossipKeys) > 0 && m.GossipKeys[0] == fp {
			out = append(out, memberName(m))
		}
	}
	return out
}

func memberName(m cluster.MemberStatus) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("(id %s)", m.ID)
}
