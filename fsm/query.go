package fsm

import (
	"maps"
	"slices"
	"sort"
)

// The query methods return copies, so callers may keep and change them freely.

// Nodes returns every node, sorted by name.
func (f *FSM) Nodes() []Node {
	f.mu.RLock()
	out := make([]Node, 0, len(f.s.nodes))
	for _, n := range f.s.nodes {
		out = append(out, cloneNode(n))
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Node returns the node with the given ID, or ErrNotFound.
func (f *FSM) Node(id string) (Node, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.s.nodes[id]
	if !ok {
		return Node{}, errorf(ErrNotFound, "node %q not found", id)
	}
	return cloneNode(n), nil
}

// NodeByName returns the node with the given name (ignoring nodes that left), or
// ErrNotFound.
func (f *FSM) NodeByName(name string) (Node, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, n := range f.s.nodes {
		if n.Name == name && n.Status != NodeLeft {
			return cloneNode(n), nil
		}
	}
	return Node{}, errorf(ErrNotFound, "node %q not found", name)
}

// VMs returns every VM, sorted by project, then name.
func (f *FSM) VMs() []VM {
	f.mu.RLock()
	out := make([]VM, 0, len(f.s.vms))
	for _, vm := range f.s.vms {
		out = append(out, cloneVM(vm))
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		return nameKey(out[i].Project, out[i].Spec.Name) < nameKey(out[j].Project, out[j].Spec.Name)
	})
	return out
}

// VMsOnNode returns the VMs assigned to a node.
func (f *FSM) VMsOnNode(nodeID string) []VM {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ids := f.s.byNode[nodeID]
	out := make([]VM, 0, len(ids))
	for id := range ids {
		out = append(out, cloneVM(f.s.vms[id]))
	}
	return out
}

// PendingVMs returns the VMs no node holds yet, oldest first, so placement is
// first come, first served.
func (f *FSM) PendingVMs() []VM {
	f.mu.RLock()
	out := make([]VM, 0, len(f.s.pending))
	for id := range f.s.pending {
		out = append(out, cloneVM(f.s.vms[id]))
	}
	f.mu.RUnlock()
	sortPending(out)
	return out
}

// sortPending orders pending VMs oldest first, then by ID: the order
// placement decides them in.
func sortPending(out []VM) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
}

// VM returns the VM with the given ID, or ErrNotFound.
func (f *FSM) VM(id string) (VM, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	vm, ok := f.s.vms[id]
	if !ok {
		return VM{}, errorf(ErrNotFound, "vm %q not found", id)
	}
	return cloneVM(vm), nil
}

// VMByName returns the VM with the given name in project (DefaultProject
// when empty), or ErrNotFound.
func (f *FSM) VMByName(project, name string) (VM, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	project = projectOf(project)
	id, ok := f.s.vmByName[nameKey(project, name)]
	if !ok {
		if project != DefaultProject {
			return VM{}, errorf(ErrNotFound, "vm %q not found in project %q", name, project)
		}
		return VM{}, errorf(ErrNotFound, "vm %q not found", name)
	}
	return cloneVM(f.s.vms[id]), nil
}

// Tokens returns every token (hashes included), sorted by creation time.
func (f *FSM) Tokens() []Token {
	f.mu.RLock()
	out := make([]Token, 0, len(f.s.tokens))
	for _, t := range f.s.tokens {
		out = append(out, *t)
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Token returns the token with the given ID, or ErrNotFound.
func (f *FSM) Token(id string) (Token, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.s.tokens[id]
	if !ok {
		return Token{}, errorf(ErrNotFound, "token %q not found", id)
	}
	return *t, nil
}

// TokenByHash returns the token whose secret hashes to hash, or ErrNotFound.
func (f *FSM) TokenByHash(hash string) (Token, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	id, ok := f.s.tokenByHash[hash]
	if !ok {
		return Token{}, errorf(ErrNotFound, "token not found")
	}
	return *f.s.tokens[id], nil
}

// Cluster returns the cluster's identity.
func (f *FSM) Cluster() ClusterInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.cluster
}

// VMCountsByState counts VMs by observed state.
func (f *FSM) VMCountsByState() map[VMState]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.s.vmStates)
}

// VMCountsByNode counts the VMs assigned to each node, from the per-node
// index: no VM is copied, whatever the cluster holds.
func (f *FSM) VMCountsByNode() map[string]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]int, len(f.s.byNode))
	for id, vms := range f.s.byNode {
		out[id] = len(vms)
	}
	return out
}

// Allocated returns the sum of the specs of the VMs assigned to a node.
func (f *FSM) Allocated(nodeID string) Capacity {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.allocated[nodeID]
}

// Fits reports whether spec fits on node beside what is assigned there, with the
// reason when it does not. It is the same check Apply makes.
func (f *FSM) Fits(nodeID string, spec VMSpec) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.fits(nodeID, spec)
}

func cloneNode(n *Node) Node {
	c := *n
	c.Labels = cloneMap(n.Labels)
	c.HostLabels = cloneMap(n.HostLabels)
	c.SetLabels = cloneMap(n.SetLabels)
	c.Networks = slices.Clone(n.Networks)
	c.Foreign = slices.Clone(n.Foreign)
	c.Pools = slices.Clone(n.Pools)
	return c
}

func cloneVM(vm *VM) VM {
	c := *vm
	c.Spec = cloneSpec(vm.Spec)
	c.Snapshots = slices.Clone(vm.Snapshots)
	return c
}

// NodeLimits are the largest node's size and every network any node has, over
// the nodes that did not leave: what the API checks a new spec against.
type NodeLimits struct {
	Nodes        int
	MaxVCPUs     int
	MaxMemoryMiB int64
	Networks     map[string]bool
}

// Limits returns NodeLimits, cached until a node changes (it runs on every
// create). The caller must not modify Networks.
func (f *FSM) Limits() NodeLimits {
	if l := f.limits.Load(); l != nil {
		return *l
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	l := NodeLimits{Networks: map[string]bool{}}
	for _, n := range f.s.nodes {
		if n.Status == NodeLeft {
			continue
		}
		l.Nodes++
		l.MaxVCPUs = max(l.MaxVCPUs, n.Capacity.VCPUs)
		l.MaxMemoryMiB = max(l.MaxMemoryMiB, n.Capacity.MemoryMiB)
		for _, net := range n.Networks {
			l.Networks[net] = true
		}
	}
	f.limits.Store(&l)
	return l
}

// MaintenanceNodes returns the nodes in maintenance, without copying the others.
func (f *FSM) MaintenanceNodes() []Node {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Node
	for _, n := range f.s.nodes {
		if n.Maintenance {
			out = append(out, cloneNode(n))
		}
	}
	return out
}

// PlacementSnapshot returns, under one read lock (so all from the same index),
// what the scheduler needs: every node and VM (shallow copies, in no order; the
// maps and slices they share with the state are replaced on change, never
// modified in place), the capacity migrations reserve, and the settings.
func (f *FSM) PlacementSnapshot() (nodes []Node, vms []VM, incoming map[string]Capacity, settings Settings) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes = make([]Node, 0, len(f.s.nodes))
	for _, n := range f.s.nodes {
		nodes = append(nodes, *n)
	}
	vms = make([]VM, 0, len(f.s.vms))
	for _, vm := range f.s.vms {
		vms = append(vms, *vm)
	}
	incoming = make(map[string]Capacity, len(f.s.incoming))
	for k, v := range f.s.incoming {
		incoming[k] = v
	}
	return nodes, vms, incoming, f.s.settings
}

// NodeReservations returns, under one read lock, what placing a new VM needs:
// every node (shallow copies, as PlacementSnapshot), what each has promised
// (its VMs plus the migrations coming in) by node ID, and the settings. It
// copies no VM, so it costs the same in a cluster of 100,000 VMs as in an
// empty one: the leader runs it for every batch of creates.
func (f *FSM) NodeReservations() (nodes []Node, reserved map[string]Capacity, settings Settings) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes = make([]Node, 0, len(f.s.nodes))
	reserved = make(map[string]Capacity, len(f.s.nodes))
	for id, n := range f.s.nodes {
		nodes = append(nodes, *n)
		if r := f.s.reserved(id); r != (Capacity{}) {
			reserved[id] = r
		}
	}
	return nodes, reserved, f.s.settings
}
