package fsm

// The capacity epoch lets the leader's placement loop skip re-deciding VMs
// that fit nowhere while nothing happened that could make them fit (issue
// 12: 10,000 pending VMs must not cost a full rescan per round). It is this
// node's own count, not replicated state: it only ever grows, across
// restores too, so a cached "unfit at epoch E" is never taken for a later
// state by mistake.

// CapacityEpoch counts the applied commands that may let a pending VM fit
// where it did not before.
func (f *FSM) CapacityEpoch() uint64 { return f.capacityEpoch.Load() }

// mayMakeRoom reports whether cmd, once applied, may let a pending VM fit
// where it did not: anything but a short list of commands that surely do
// not. A PlaceVM that assigns a node counts, since it may satisfy another
// VM's affinity; one that only records why a VM waits does not. A CreateVM
// does not either: the leader places a new VM at creation only when it is in
// no placement group (control/create_placement.go). Being wrong
// towards true costs a full placement pass, never a VM left waiting.
func mayMakeRoom(cmd Command) bool {
	switch c := cmd.(type) {
	case *PlaceVM:
		return c.Node != ""
	case *CreateVM, *CreateToken, *RevokeToken, *BootstrapToken, *InitCluster,
		*CreateJoinToken, *UseJoinToken, *RevokeJoinToken, *SetClusterCA, *GossipKeyring, *PurgeRecords:
		return false
	}
	return true
}

// noteApplied moves the epoch for a command applied without error, and
// counts the migrations it ended (migrations_ended.go). It runs under the
// FSM's write lock.
func (f *FSM) noteApplied(cmd Command) {
	if mayMakeRoom(cmd) {
		f.capacityEpoch.Add(1)
	}
	f.migrationsEnded.note(f.s, cmd)
}

// PendingVMsExcept is PendingVMs without the VMs in skip: the placement
// loop's incremental pass, which copies only what it will decide.
func (f *FSM) PendingVMsExcept(skip map[string]struct{}) []VM {
	f.mu.RLock()
	out := make([]VM, 0, max(len(f.s.pending)-len(skip), 0))
	for id := range f.s.pending {
		if _, ok := skip[id]; !ok {
			out = append(out, cloneVM(f.s.vms[id]))
		}
	}
	f.mu.RUnlock()
	sortPending(out)
	return out
}
