package fsm

import (
	"slices"
	"strings"
)

// MinIDPrefix is the shortest ID prefix a lookup accepts: shorter ones
// would match too much to be meant.
const MinIDPrefix = 4

// IDsWithPrefix returns up to max IDs of kind ("vm", "node", "migration",
// "failover" or "image") that start with prefix, in order, so that a user may name an
// object by the start of its ID as git and docker allow. It scans the kind's
// records: a lookup that missed its exact ID and name, not a hot path.
func (f *FSM) IDsWithPrefix(kind, prefix string, max int) []string {
	if len(prefix) < MinIDPrefix || max <= 0 {
		return nil
	}
	f.mu.RLock()
	var out []string
	add := func(id string) {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	switch kind {
	case "vm":
		for id := range f.s.vms {
			add(id)
		}
	case "node":
		for id, n := range f.s.nodes {
			if n.Status != NodeLeft {
				add(id)
			}
		}
	case "migration":
		for id := range f.s.migrations {
			add(id)
		}
	case "failover":
		for id := range f.s.failovers {
			add(id)
		}
	case "image":
		for id := range f.s.images {
			add(id)
		}
	case "volume":
		for id := range f.s.volumes {
			add(id)
		}
	}
	f.mu.RUnlock()
	slices.Sort(out)
	if len(out) > max {
		out = out[:max]
	}
	return out
}
