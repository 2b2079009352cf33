package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"cmp"
	"slices"
	"time"
)

// Removals let `vm delete --wait` return once the VM's domain is really gone.
// A DeleteVM takes the VM out of the state at once (its name and its room are
// free for the next create), but its host destroys the domain a moment later,
// when it applies the delete. So a delete of a placed VM leaves a Removal
// behind: what the VM was and where it ran. Its host confirms with
// DomainRemoved once no domain of that VM is left, which drops the removal.
// A removal on a node that is removed goes with the node; the table is
// bounded, its oldest entry giving way (the host still removes the domain,
// only the wait loses track of it).

// MaxRemovals bounds the removals the state keeps.
const MaxRemovals = 10000

// MaxDomainsRemoved bounds the VMs one DomainRemoved confirms.
const MaxDomainsRemoved = 1024

// Removal is a deleted VM whose host has not yet confirmed its domain gone.
type Removal struct {
	VMID string `json:"vm_id"`
	Name string `json:"name"`
	// Project is the VM's project: its members may wait for the removal.
	Project   string    `json:"project,omitempty"`
	Node      string    `json:"node"`
	DeletedAt time.Time `json:"deleted_at"`
	// Index is the Raft index of the delete.
	Index uint64 `json:"index"`
	// Pool is the pool of the VM's volumes, which its host removes with the
	// domain unless KeepVolumes (then the root volume stays); empty for a
	// VM without volumes.
	Pool        string `json:"pool,omitempty"`
	KeepVolumes bool   `json:"keep_volumes,omitempty"`
}

// DomainRemoved is a host saying that no domain of these deleted VMs is left
// on it. Only the removals on Node are dropped: another host cannot confirm
// for it.
type DomainRemoved struct {
	Node  string   `json:"node"`
	VMIDs []string `json:"vm_ids,omitempty"`
}

func (DomainRemoved) Type() CommandType { return CmdDomainRemoved }

func (c DomainRemoved) target() (string, string) { return "node", c.Node }

func init() {
	register(CmdDomainRemoved, "DomainRemoved", applyDomainRemoved)
}

func applyDomainRemoved(s *state, c *DomainRemoved, _ uint64) error {
	if len(c.VMIDs) > MaxDomainsRemoved {
		return errorf(ErrInvalid, "%d vms in one confirmation, at most %d", len(c.VMIDs), MaxDomainsRemoved)
	}
	for _, id := range c.VMIDs {
		if r, ok := s.removals[id]; ok && r.Node == c.Node {
			s.dropRemoval(id)
		}
	}
	return nil
}

// addRemoval records that vm, deleted at index, waits for its host to remove
// its domain.
func (s *state) addRemoval(vm *VM, at time.Time, index uint64, keepVolumes bool) {
	if vm.Node == "" {
		return
	}
	if _, again := s.removals[vm.ID]; !again && len(s.removals) >= MaxRemovals {
		s.dropRemoval(s.oldestRemoval())
	}
	r := &Removal{VMID: vm.ID, Name: vm.Spec.Name, Project: vm.Project, Node: vm.Node, DeletedAt: at, Index: index}
	if vm.Spec.Image != "" || vm.Spec.CloudInit != nil {
		r.Pool, r.KeepVolumes = vm.Spec.EffectivePool(), keepVolumes
	}
	s.putRemoval(r)
}

// putRemoval adds r to the table and its node's index, in place of an
// earlier removal of the same ID (a VM ID used again).
func (s *state) putRemoval(r *Removal) {
	s.dropRemoval(r.VMID)
	s.removals[r.VMID] = r
	ids := s.removalsByNode[r.Node]
	if ids == nil {
		ids = map[string]struct{}{}
		s.removalsByNode[r.Node] = ids
	}
	ids[r.VMID] = struct{}{}
}

// oldestRemoval is the removal of the earliest delete. It scans the table:
// only a full table, which a working cluster never has, calls it.
func (s *state) oldestRemoval() string {
	var oldest *Removal
	for _, r := range s.removals {
		if oldest == nil || r.Index < oldest.Index {
			oldest = r
		}
	}
	if oldest == nil {
		return ""
	}
	return oldest.VMID
}

func (s *state) dropRemoval(id string) {
	r, ok := s.removals[id]
	if !ok {
		return
	}
	delete(s.removals, id)
	if ids := s.removalsByNode[r.Node]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.removalsByNode, r.Node)
		}
	}
}

// dropNodeRemovals forgets the removals on a node that leaves the state.
func (s *state) dropNodeRemovals(node string) {
	for id := range s.removalsByNode[node] {
		delete(s.removals, id)
	}
	delete(s.removalsByNode, node)
}

// Removal returns the removal of a deleted VM, if its host has not yet
// confirmed its domain gone.
func (f *FSM) Removal(vmID string) (Removal, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.s.removals[vmID]
	if !ok {
		return Removal{}, false
	}
	return *r, true
}

// RemovalsOnNode returns the removals waiting for a node, oldest first.
func (f *FSM) RemovalsOnNode(node string) []Removal {
	f.mu.RLock()
	out := make([]Removal, 0, len(f.s.removalsByNode[node]))
	for id := range f.s.removalsByNode[node] {
		out = append(out, *f.s.removals[id])
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Removal) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// Removals returns every removal waiting for its host, oldest first.
func (f *FSM) Removals() []Removal {
	f.mu.RLock()
	out := make([]Removal, 0, len(f.s.removals))
	for _, r := range f.s.removals {
		out = append(out, *r)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Removal) int { return cmp.Compare(a.Index, b.Index) })
	return out
}
