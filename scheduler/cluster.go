package scheduler

import (
	"cmp"
	"maps"
	"slices"

	"github.com/novacron/novacron/fsm"
)

// State is the read-only view of the cluster a snapshot is built from.
// *fsm.FSM satisfies it.
type State interface {
	// Nodes returns every known node.
	Nodes() []fsm.Node
	// VMs returns every VM, placed or pending.
	VMs() []fsm.VM
	// Incoming returns what each node has reserved for migrations coming in.
	Incoming() map[string]fsm.Capacity
	// Settings returns the cluster settings (overcommit ratios, strategy, ...).
	Settings() fsm.Settings
}

// Cluster is a snapshot of what placement needs, built once per round. Per node
// it holds the effective capacity (with overcommit), what is reserved there (the
// VMs assigned plus migrations coming in), labels and networks as interned
// numbers, so that Place runs over plain integers; per group the nodes its
// members run on. Assign and Unassign keep it current within a round.
//
// NewCluster keeps references to the nodes' label maps and to the VMs it is
// given (Assign keeps the VM pointer it gets): they must not change while the
// Cluster is in use. The FSM's query methods return copies, so FromState is
// always safe.
type Cluster struct {
	settings fsm.Settings
	// nodes (hot, read in the placement loop) and info (cold, read to explain)
	// are parallel and sorted by name, then ID: ties between equal scores go to
	// the node that sorts first, whatever order the nodes came in.
	nodes  []nodeRec
	info   []nodeInfo
	byID   map[string]int32
	byName map[string]int32
	// labelIDs and netIDs intern "key=value" label pairs and network names.
	labelIDs map[labelPair]int32
	netIDs   map[string]int32
	// vms holds every VM the snapshot knows, vmByID indexes it.
	vms    []vmRec
	vmByID map[string]int32
	// groups maps a group name to the nodes its members run on.
	groups map[string]*groupIdx
}

// nodeRec is what the placement loop reads for one node.
type nodeRec struct {
	alive, maintenance bool
	// capacity is the effective capacity (overcommit applied); used is what
	// the node has promised: its VMs and the migrations coming in.
	capV, usedV int
	capM, usedM int64
	capD, usedD int64
	// invV and invM are 1/capV and 1/capM (0 for no capacity): the score
	// multiplies rather than divides.
	invV, invM float64
	labels     []int32 // sorted interned label pairs
	nets       []int32 // interned network names
	vms        int32   // VMs assigned here
}

// nodeInfo is what only explanations read.
type nodeInfo struct {
	id, name string
	status   fsm.NodeStatus
	labels   map[string]string
	// pools are the node's storage pools as it last measured them; none
	// for a host that keeps no disks (sim).
	pools []fsm.PoolUsage
}

type labelPair struct{ key, value string }

// vmRec is one VM as the snapshot counts it.
type vmRec struct {
	vm *fsm.VM
	// node is the index of the node the VM is counted on, -1 if none.
	node int32
	// v, m and d are the VM's vCPUs, memory and disk as counted.
	v    int
	m, d int64
}

// groupIdx lists the nodes that run members of one group, with how many.
type groupIdx struct {
	entries []groupEntry // sorted by node
}

type groupEntry struct {
	node, count int32
}

// FromState builds a Cluster from a state view, usually the FSM.
func FromState(st State) *Cluster {
	if fast, ok := st.(snapshotter); ok {
		return NewCluster(fast.PlacementSnapshot())
	}
	return NewCluster(st.Nodes(), st.VMs(), st.Incoming(), st.Settings())
}

// snapshotter is a State that can hand everything over under one lock, without
// sorting or deep copies (*fsm.FSM does).
type snapshotter interface {
	PlacementSnapshot() ([]fsm.Node, []fsm.VM, map[string]fsm.Capacity, fsm.Settings)
}

// NewCluster builds a snapshot from nodes, VMs, incoming migration
// reservations by node ID, and the cluster settings (zero fields mean the
// defaults). VMs assigned to unknown nodes are kept, so Assign can move them,
// but count nowhere.
func NewCluster(nodes []fsm.Node, vms []fsm.VM, incoming map[string]fsm.Capacity, settings fsm.Settings) *Cluster {
	settings = settings.WithDefaults()
	if settings.Strategy != fsm.StrategyBinpack {
		settings.Strategy = fsm.StrategySpread
	}
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(nodes[a].Name, nodes[b].Name); c != 0 {
			return c
		}
		return cmp.Compare(nodes[a].ID, nodes[b].ID)
	})
	c := &Cluster{
		settings: settings,
		nodes:    make([]nodeRec, len(nodes)),
		info:     make([]nodeInfo, len(nodes)),
		byID:     make(map[string]int32, len(nodes)),
		byName:   make(map[string]int32, len(nodes)),
		labelIDs: map[labelPair]int32{},
		netIDs:   map[string]int32{},
		vms:      make([]vmRec, len(vms)),
		vmByID:   make(map[string]int32, len(vms)),
		groups:   map[string]*groupIdx{},
	}
	// One backing array for every node's label and network IDs.
	total := 0
	for i := range nodes {
		total += len(nodes[i].Labels) + len(nodes[i].Networks)
	}
	ids := make([]int32, 0, total)
	for i, o := range order {
		n := &nodes[o]
		capa := settings.EffectiveCapacity(n)
		rec := &c.nodes[i]
		rec.alive, rec.maintenance = n.Status == fsm.NodeAlive, n.Maintenance
		rec.capV, rec.capM, rec.capD = capa.VCPUs, capa.MemoryMiB, capa.DiskGiB
		if capa.VCPUs > 0 {
			rec.invV = 1 / float64(capa.VCPUs)
		}
		if capa.MemoryMiB > 0 {
			rec.invM = 1 / float64(capa.MemoryMiB)
		}
		start := len(ids)
		for k, v := range n.Labels {
			ids = append(ids, intern(c.labelIDs, labelPair{k, v}))
		}
		slices.Sort(ids[start:])
		rec.labels = ids[start:len(ids):len(ids)]
		start = len(ids)
		for _, name := range n.Networks {
			ids = append(ids, intern(c.netIDs, name))
		}
		rec.nets = ids[start:len(ids):len(ids)]
		if in, ok := incoming[n.ID]; ok {
			rec.usedV, rec.usedM, rec.usedD = in.VCPUs, in.MemoryMiB, in.DiskGiB
		}
		c.info[i] = nodeInfo{id: n.ID, name: n.Name, status: n.Status, labels: n.Labels, pools: n.Pools}
		c.byID[n.ID] = int32(i)
		// A name is unique among nodes that have not left; a live one wins.
		if j, dup := c.byName[n.Name]; !dup || c.info[j].status == fsm.NodeLeft {
			c.byName[n.Name] = int32(i)
		}
	}
	for i := range vms {
		vm := &vms[i]
		c.vms[i] = vmRec{vm: vm, node: -1}
		c.vmByID[vm.ID] = int32(i)
		if j, ok := c.byID[vm.Node]; ok && vm.Node != "" {
			c.count(int32(i), j)
		}
	}
	return c
}

// intern returns the number of key in ids, adding it if it is new.
func intern[K comparable](ids map[K]int32, key K) int32 {
	if id, ok := ids[key]; ok {
		return id
	}
	id := int32(len(ids))
	ids[key] = id
	return id
}

// Assign records that vm now runs on nodeID: its reservation and group
// membership leave the node the snapshot counted it on and go to nodeID, so
// the next decision of the round sees this one. It does not change vm itself.
// A VM the snapshot did not know is added; an unknown nodeID leaves the VM
// counted nowhere.
func (c *Cluster) Assign(vm *fsm.VM, nodeID string) {
	r := c.record(vm)
	c.uncount(r)
	c.vms[r].vm = vm
	if j, ok := c.byID[nodeID]; ok && nodeID != "" {
		c.count(r, j)
	}
}

// unassign records that vm runs nowhere: its reservation and group membership
// are released (failover uses it for the VMs of a dead node).
func (c *Cluster) unassign(vm *fsm.VM) {
	r := c.record(vm)
	c.uncount(r)
	c.vms[r].vm = vm
}

// record returns the index of vm's record, adding one if needed.
func (c *Cluster) record(vm *fsm.VM) int32 {
	if r, ok := c.vmByID[vm.ID]; ok {
		return r
	}
	r := int32(len(c.vms))
	c.vms = append(c.vms, vmRec{vm: vm, node: -1})
	c.vmByID[vm.ID] = r
	return r
}

// count adds VM record r to node j: its size and its group memberships.
func (c *Cluster) count(r, j int32) {
	rec := &c.vms[r]
	spec := &rec.vm.Spec
	rec.node, rec.v, rec.m, rec.d = j, spec.VCPUs, spec.MemoryMiB, spec.DiskGiB
	n := &c.nodes[j]
	n.usedV += rec.v
	n.usedM += rec.m
	n.usedD += rec.d
	n.vms++
	forEachGroup(rec.vm, func(name string) {
		g := c.groups[name]
		if g == nil {
			g = &groupIdx{}
			c.groups[name] = g
		}
		g.add(j, 1)
	})
}

// uncount removes VM record r from the node it is counted on, if any.
func (c *Cluster) uncount(r int32) {
	rec := &c.vms[r]
	j := rec.node
	if j < 0 {
		return
	}
	n := &c.nodes[j]
	n.usedV -= rec.v
	n.usedM -= rec.m
	n.usedD -= rec.d
	n.vms--
	forEachGroup(rec.vm, func(name string) {
		if g := c.groups[name]; g != nil {
			g.add(j, -1)
		}
	})
	rec.node, rec.v, rec.m, rec.d = -1, 0, 0, 0
}

// forEachGroup calls fn once for every group vm belongs to, whatever the kind
// of its rules: a group is known by its name, and each member's rule says how
// it treats the others.
func forEachGroup(vm *fsm.VM, fn func(name string)) {
	p := vm.Spec.Placement
	if p == nil {
		return
	}
	for i, g := range p.Groups {
		if g.Group == "" || slices.ContainsFunc(p.Groups[:i], func(o fsm.GroupRule) bool { return o.Group == g.Group }) {
			continue
		}
		fn(g.Group)
	}
}

// inGroup reports whether vm belongs to group name.
func inGroup(vm *fsm.VM, name string) bool {
	p := vm.Spec.Placement
	return p != nil && slices.ContainsFunc(p.Groups, func(g fsm.GroupRule) bool { return g.Group == name })
}

// add changes the member count of node j by delta, dropping empty entries.
func (g *groupIdx) add(j, delta int32) {
	i, found := slices.BinarySearchFunc(g.entries, j, func(e groupEntry, j int32) int { return cmp.Compare(e.node, j) })
	switch {
	case found:
		g.entries[i].count += delta
		if g.entries[i].count <= 0 {
			g.entries = slices.Delete(g.entries, i, i+1)
		}
	case delta > 0:
		g.entries = slices.Insert(g.entries, i, groupEntry{node: j, count: delta})
	}
}

// clone returns a copy whose reservations and groups can change without
// touching c. What never changes after NewCluster (node info, interned IDs,
// label and network slices) is shared.
func (c *Cluster) clone() *Cluster {
	cp := *c
	cp.nodes = slices.Clone(c.nodes)
	cp.vms = slices.Clone(c.vms)
	cp.vmByID = maps.Clone(c.vmByID)
	cp.groups = make(map[string]*groupIdx, len(c.groups))
	for name, g := range c.groups {
		cp.groups[name] = &groupIdx{entries: slices.Clone(g.entries)}
	}
	return &cp
}

// nodeIndex resolves a node ID or name to its index, -1 if unknown.
func (c *Cluster) nodeIndex(ref string) int32 {
	if j, ok := c.byID[ref]; ok {
		return j
	}
	if j, ok := c.byName[ref]; ok {
		return j
	}
	return -1
}
