package fsm

import "sort"

// Migrations returns every migration record, newest first.
func (f *FSM) Migrations() []Migration {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Migration, 0, len(f.s.migrations))
	for _, m := range f.s.migrations {
		out = append(out, cloneMigration(m))
	}
	sortMigrations(out)
	return out
}

// ActiveMigrations returns the migrations that have not ended, oldest first
// (the order the leader admits them in).
func (f *FSM) ActiveMigrations() []Migration {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Migration, 0, len(f.s.active))
	for id := range f.s.active {
		out = append(out, cloneMigration(f.s.migrations[id]))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Migration returns one migration record.
func (f *FSM) Migration(id string) (Migration, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.s.migrations[id]
	if !ok {
		return Migration{}, errorf(ErrNotFound, "migration %q not found", id)
	}
	return cloneMigration(m), nil
}

// CheckMigration says why vm cannot migrate to target in mode now, or nil: the
// same check Apply makes, for the API to refuse early.
func (f *FSM) CheckMigration(vmID, mode, target string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	vm, ok := f.s.vms[vmID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", vmID)
	}
	return f.s.checkMigration(vm, mode, target)
}

// CheckMovable says why a VM cannot migrate in mode now, wherever to, or nil:
// for the API to refuse before it asks the scheduler for a destination.
func (f *FSM) CheckMovable(vmID, mode string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	vm, ok := f.s.vms[vmID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", vmID)
	}
	return f.s.checkMovable(vm, mode)
}

// Settings returns the cluster settings with defaults filled in.
func (f *FSM) Settings() Settings {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.settings
}

// Incoming returns what each node has reserved for migrations coming in.
func (f *FSM) Incoming() map[string]Capacity {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]Capacity, len(f.s.incoming))
	for k, v := range f.s.incoming {
		out[k] = v
	}
	return out
}

// Reserved returns what a node has promised: its VMs plus migrations coming in.
func (f *FSM) Reserved(nodeID string) Capacity {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.reserved(nodeID)
}

func cloneMigration(m *Migration) Migration {
	c := *m
	if m.Progress != nil {
		p := *m.Progress
		c.Progress = &p
	}
	if m.Result != nil {
		r := *m.Result
		c.Result = &r
	}
	if m.Rebalance != nil {
		r := *m.Rebalance
		c.Rebalance = &r
	}
	return c
}

// sortMigrations orders migrations newest first.
func sortMigrations(ms []Migration) {
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].CreatedAt.Equal(ms[j].CreatedAt) {
			return ms[i].CreatedAt.After(ms[j].CreatedAt)
		}
		return ms[i].ID > ms[j].ID
	})
}
