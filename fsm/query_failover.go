package fsm

import (
	"slices"
	"sort"
)

// Failovers returns every failover record, newest first.
func (f *FSM) Failovers() []Failover {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Failover, 0, len(f.s.failovers))
	for _, fo := range f.s.failovers {
		out = append(out, cloneFailover(fo))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RestartedAt.Equal(out[j].RestartedAt) {
			return out[i].RestartedAt.After(out[j].RestartedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// ActiveFailovers returns the failovers whose VMs do not all run again yet,
// in no order: what the leader follows every half heartbeat, without copying
// the whole history each time.
func (f *FSM) ActiveFailovers() []Failover {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Failover
	for _, fo := range f.s.failovers {
		if fo.CompletedAt.IsZero() {
			out = append(out, cloneFailover(fo))
		}
	}
	return out
}

// Failover returns one failover record.
func (f *FSM) Failover(id string) (Failover, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fo, ok := f.s.failovers[id]
	if !ok {
		return Failover{}, errorf(ErrNotFound, "failover %q not found", id)
	}
	return cloneFailover(fo), nil
}

func cloneFailover(fo *Failover) Failover {
	c := *fo
	c.VMs = slices.Clone(fo.VMs)
	return c
}
