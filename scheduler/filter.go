package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// Rejection kinds: the Kind of an fsm.Rejection and the keys of
// fsm.Decision.RejectedCounts. A node is rejected for the first filter it
// fails, in the order below.
const (
	RejectExcluded     = "excluded"      // the caller ruled the node out (the VM's current node, a dead node)
	RejectStatus       = "status"        // the node is not alive
	RejectMaintenance  = "maintenance"   // an operator put the node in maintenance
	RejectNodes        = "nodes"         // not in the VM's Placement.Nodes list
	RejectNodeSelector = "node-selector" // lacks a label of Placement.NodeSelector
	RejectNetwork      = "network"       // lacks a network a NIC of the VM needs
	RejectAntiAffinity = "anti-affinity" // runs a member of a hard anti-affinity group
	RejectAffinity     = "affinity"      // not where the VM's hard affinity group runs
	RejectMemory       = "memory"        // not enough memory free
	RejectVCPUs        = "vcpus"         // not enough vCPUs free
	RejectDisk         = "disk"          // not enough disk free
	RejectPool         = "pool"          // the VM's storage pool is missing or too full there
)

// kind numbers the rejection kinds for the placement loop; 0 is a fit.
type kind uint8

const (
	fits kind = iota
	kindExcluded
	kindStatus
	kindMaintenance
	kindNodes
	kindSelector
	kindNetwork
	kindAntiAffinity
	kindAffinity
	kindMemory
	kindVCPUs
	kindDisk
	kindPool
	numKinds
)

var kindNames = [numKinds]string{"", RejectExcluded, RejectStatus, RejectMaintenance, RejectNodes,
	RejectNodeSelector, RejectNetwork, RejectAntiAffinity, RejectAffinity, RejectMemory, RejectVCPUs, RejectDisk, RejectPool}

// request is one VM prepared for the placement loop: everything the filters
// and the score need, resolved to node indexes and interned IDs, so the loop
// over nodes does no map look-ups and no allocation.
type request struct {
	vm *fsm.VM
	// v, m and d are the VM's size.
	v    int
	m, d int64
	// self is the node the snapshot counts this VM on (-1 if none), and selfV,
	// selfM, selfD what it counts there: the VM does not compete with itself.
	self         int32
	selfV        int
	selfM, selfD int64
	nets         []int32 // interned networks the NICs need
	labels       []int32 // interned selector pairs
	// noNet and noLabel: the VM needs a network or label no node has.
	noNet, noLabel bool
	only           *cursor // Placement.Nodes, nil when unrestricted
	excluded       *cursor
	preferred      *cursor
	groups         []groupReq
	binpack        bool
	strategy       string

	// exclude and unfit are Options.Exclude and Options.Unfit: why the
	// excluded nodes are (Exclude's reason first).
	exclude map[string]bool
	unfit   map[string]string
	// pool is the pool the VM's volumes need room in; "" for a VM without
	// volumes.
	pool string
}

// groupReq is one group rule of the VM, with where the group's members run.
type groupReq struct {
	rule fsm.GroupRule
	cur  groupCursor
	// max is the largest member count on one node (hard affinity goes there);
	// 0 when no member runs anywhere yet.
	max int32
}

// cursor answers "is node i in this sorted list" for ascending i.
type cursor struct {
	idx []int32
	pos int
}

func newCursor(idx []int32) *cursor {
	slices.Sort(idx)
	return &cursor{idx: slices.Compact(idx)}
}

func (c *cursor) has(i int32) bool {
	for c.pos < len(c.idx) && c.idx[c.pos] < i {
		c.pos++
	}
	return c.pos < len(c.idx) && c.idx[c.pos] == i
}

// groupCursor answers "how many members on node i" for ascending i, leaving
// out the VM being placed.
type groupCursor struct {
	entries []groupEntry
	pos     int
	self    int32 // node whose count includes the VM itself, -1 if none
}

func (g *groupCursor) count(i int32) int32 {
	for g.pos < len(g.entries) && g.entries[g.pos].node < i {
		g.pos++
	}
	if g.pos < len(g.entries) && g.entries[g.pos].node == i {
		n := g.entries[g.pos].count
		if i == g.self {
			n--
		}
		return n
	}
	return 0
}

// prepare resolves vm and opts against the snapshot.
func (c *Cluster) prepare(vm *fsm.VM, exclude map[string]bool, unfit map[string]string) request {
	r := request{vm: vm, v: vm.Spec.VCPUs, m: vm.Spec.MemoryMiB, d: vm.Spec.DiskGiB, self: -1, strategy: c.settings.Strategy, exclude: exclude, unfit: unfit}
	if vm.Spec.Image != "" {
		r.pool = vm.Spec.EffectivePool()
	}
	if i, ok := c.vmByID[vm.ID]; ok && c.vms[i].node >= 0 {
		rec := &c.vms[i]
		r.self, r.selfV, r.selfM, r.selfD = rec.node, rec.v, rec.m, rec.d
	}
	for _, nic := range vm.Spec.NICs {
		if nic.Network == "" {
			continue
		}
		if id, ok := c.netIDs[nic.Network]; ok {
			r.nets = append(r.nets, id)
		} else {
			r.noNet = true
		}
	}
	if len(exclude) > 0 || len(unfit) > 0 {
		var idx []int32
		for id, ex := range exclude {
			if j, ok := c.byID[id]; ok && ex {
				idx = append(idx, j)
			}
		}
		for id, why := range unfit {
			if j, ok := c.byID[id]; ok && why != "" {
				idx = append(idx, j)
			}
		}
		r.excluded = newCursor(idx)
	}
	p := vm.Spec.Placement
	if p == nil {
		r.binpack = r.strategy == fsm.StrategyBinpack
		return r
	}
	if p.Strategy == fsm.StrategySpread || p.Strategy == fsm.StrategyBinpack {
		r.strategy = p.Strategy
	}
	for k, v := range p.NodeSelector {
		if id, ok := c.labelIDs[labelPair{k, v}]; ok {
			r.labels = append(r.labels, id)
		} else {
			r.noLabel = true
		}
	}
	r.binpack = r.strategy == fsm.StrategyBinpack
	if len(p.Nodes) > 0 {
		r.only = c.resolve(p.Nodes)
	}
	if len(p.PreferredNodes) > 0 {
		r.preferred = c.resolve(p.PreferredNodes)
	}
	for _, g := range p.Groups {
		// Unknown kinds are ignored; a rule repeated is counted once.
		if g.Group == "" || (g.Kind != fsm.GroupAffinity && g.Kind != fsm.GroupAntiAffinity) ||
			slices.ContainsFunc(r.groups, func(o groupReq) bool { return o.rule == g }) {
			continue
		}
		gr := groupReq{rule: g, cur: groupCursor{self: -1}}
		if idx := c.groups[g.Group]; idx != nil {
			gr.cur.entries = idx.entries
		}
		if r.self >= 0 && inGroup(c.vms[c.vmByID[vm.ID]].vm, g.Group) {
			gr.cur.self = r.self
		}
		for _, e := range gr.cur.entries {
			n := e.count
			if e.node == gr.cur.self {
				n--
			}
			gr.max = max(gr.max, n)
		}
		r.groups = append(r.groups, gr)
	}
	return r
}

// resolve turns node names or IDs into a cursor over their indexes; unknown
// references are dropped.
func (c *Cluster) resolve(refs []string) *cursor {
	idx := make([]int32, 0, len(refs))
	for _, ref := range refs {
		if j := c.nodeIndex(ref); j >= 0 {
			idx = append(idx, j)
		}
	}
	return newCursor(idx)
}

// check runs every hard filter of r on node i and returns the first one that
// fails, or fits. Calls must come in ascending i between rewinds.
func (c *Cluster) check(r *request, i int32) kind {
	n := &c.nodes[i]
	if r.excluded != nil && r.excluded.has(i) {
		return kindExcluded
	}
	if !n.alive {
		return kindStatus
	}
	if n.maintenance {
		return kindMaintenance
	}
	if r.only != nil && !r.only.has(i) {
		return kindNodes
	}
	if r.noLabel {
		return kindSelector
	}
	for _, l := range r.labels {
		if !slices.Contains(n.labels, l) {
			return kindSelector
		}
	}
	if r.noNet {
		return kindNetwork
	}
	for _, id := range r.nets {
		if !slices.Contains(n.nets, id) {
			return kindNetwork
		}
	}
	for g := range r.groups {
		gr := &r.groups[g]
		if !gr.rule.Hard {
			continue
		}
		members := gr.cur.count(i)
		if gr.rule.Kind == fsm.GroupAntiAffinity && members > 0 {
			return kindAntiAffinity
		}
		if gr.rule.Kind == fsm.GroupAffinity && gr.max > 0 && members < gr.max {
			return kindAffinity
		}
	}
	usedV, usedM, usedD := n.usedV, n.usedM, n.usedD
	if i == r.self {
		usedV, usedM, usedD = usedV-r.selfV, usedM-r.selfM, usedD-r.selfD
	}
	if usedM+r.m > n.capM {
		return kindMemory
	}
	if usedV+r.v > n.capV {
		return kindVCPUs
	}
	if n.capD > 0 && usedD+r.d > n.capD {
		return kindDisk
	}
	if r.pool != "" && c.poolShort(r, i) != "" {
		return kindPool
	}
	return fits
}

// free returns what node i has free for r (its own reservation counted free).
func (c *Cluster) free(r *request, i int32) (v int, m, d int64) {
	n := &c.nodes[i]
	v, m, d = n.capV-n.usedV, n.capM-n.usedM, n.capD-n.usedD
	if i == r.self {
		v, m, d = v+r.selfV, m+r.selfM, d+r.selfD
	}
	return v, m, d
}

// explain says in a few words why node i failed filter k for r. It runs only
// for the rejections a decision keeps, so it may be slow.
func (c *Cluster) explain(r *request, i int32, k kind) string {
	info := &c.info[i]
	v, m, d := c.free(r, i)
	switch k {
	case kindExcluded:
		if why := r.unfit[info.id]; why != "" && !r.exclude[info.id] {
			return why
		}
		return "excluded from this decision"
	case kindStatus:
		return fmt.Sprintf("%s, not alive", info.status)
	case kindMaintenance:
		return "in maintenance"
	case kindNodes:
		return "not in the vm's node list"
	case kindSelector:
		return c.explainSelector(r, info)
	case kindNetwork:
		for _, nic := range r.vm.Spec.NICs {
			if id, ok := c.netIDs[nic.Network]; nic.Network != "" && (!ok || !slices.Contains(c.nodes[i].nets, id)) {
				return fmt.Sprintf("no network %q", nic.Network)
			}
		}
	case kindAntiAffinity, kindAffinity:
		return c.explainGroup(r, i, k)
	case kindMemory:
		return fmt.Sprintf("%d MiB free, needs %d", m, r.m)
	case kindVCPUs:
		return fmt.Sprintf("%d vCPUs free, needs %d", v, r.v)
	case kindDisk:
		return fmt.Sprintf("%d GiB free, needs %d", d, r.d)
	case kindPool:
		return c.poolShort(r, i)
	}
	return kindNames[k]
}

func (c *Cluster) explainSelector(r *request, info *nodeInfo) string {
	sel := r.vm.Spec.Placement.NodeSelector
	// Look at the keys in order, so the same node always gets the same reason.
	var keys []string
	if len(sel) > 1 {
		keys = make([]string, 0, len(sel))
		for k := range sel {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	} else {
		for k := range sel {
			keys = []string{k}
		}
	}
	for _, k := range keys {
		have, ok := info.labels[k]
		switch {
		case !ok:
			return "no label " + k + ", needs " + k + "=" + sel[k]
		case have != sel[k]:
			return "label " + k + "=" + have + ", needs " + k + "=" + sel[k]
		}
	}
	return "labels do not match the node selector"
}

func (c *Cluster) explainGroup(r *request, i int32, k kind) string {
	for g := range r.groups {
		gr := r.groups[g]
		if !gr.rule.Hard {
			continue
		}
		gr.cur.pos = 0
		members := gr.cur.count(i)
		switch {
		case k == kindAntiAffinity && gr.rule.Kind == fsm.GroupAntiAffinity && members > 0:
			return fmt.Sprintf("anti-affinity group %q already has %s here", gr.rule.Group, plural(int(members), "member"))
		case k == kindAffinity && gr.rule.Kind == fsm.GroupAffinity && members < gr.max:
			return fmt.Sprintf("affinity group %q runs on %s (%s)", gr.rule.Group, strings.Join(c.groupHomes(gr), ", "), plural(int(gr.max), "member"))
		}
	}
	return kindNames[k]
}

// groupHomes names the nodes that hold the most members of gr.
func (c *Cluster) groupHomes(gr groupReq) []string {
	var names []string
	for _, e := range gr.cur.entries {
		n := e.count
		if e.node == gr.cur.self {
			n--
		}
		if n == gr.max {
			names = append(names, c.info[e.node].name)
		}
	}
	return names
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// poolShort says why node i's copy of the VM's pool cannot take its root
// volume, or "" when it can: the host measures the pool with an error, or
// it has less free than the volume's full size (overlays grow into it). A
// node that reports no pools at all keeps no disks (sim) and is not held
// back. A VM already counted on the node has its volume there already.
func (c *Cluster) poolShort(r *request, i int32) string {
	pools := c.info[i].pools
	if len(pools) == 0 || i == r.self {
		return ""
	}
	for _, p := range pools {
		if p.Pool != r.pool {
			continue
		}
		if p.Error != "" {
			return fmt.Sprintf("pool %s unusable: %s", p.Pool, p.Error)
		}
		if p.AvailableBytes < r.d<<30 {
			return fmt.Sprintf("pool %s has %.1f GiB free, the root volume needs %d", p.Pool, float64(p.AvailableBytes)/(1<<30), r.d)
		}
		return ""
	}
	return fmt.Sprintf("no pool %s on this host yet", r.pool)
}
