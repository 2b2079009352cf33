package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

var _ State = (*fsm.FSM)(nil)

// t0 is the time test decisions carry.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// harness builds a cluster by hand, runs decisions against it and records
// them, like Nomad's scheduler Harness records plans.
type harness struct {
	t         *testing.T
	nodes     []fsm.Node
	vms       []*fsm.VM
	incoming  map[string]fsm.Capacity
	settings  fsm.Settings
	c         *Cluster
	decisions []fsm.Decision
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, incoming: map[string]fsm.Capacity{}}
}

// nodeOpt changes a node the harness adds.
type nodeOpt func(*fsm.Node)

func labels(kv ...string) nodeOpt {
	return func(n *fsm.Node) {
		n.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}
func networks(names ...string) nodeOpt { return func(n *fsm.Node) { n.Networks = names } }
func status(s fsm.NodeStatus) nodeOpt  { return func(n *fsm.Node) { n.Status = s } }
func maintenance() nodeOpt             { return func(n *fsm.Node) { n.Maintenance = true } }
func diskGiB(g int64) nodeOpt          { return func(n *fsm.Node) { n.Capacity.DiskGiB = g } }
func cpuRatio(r float64) nodeOpt       { return func(n *fsm.Node) { n.CPUOvercommit = r } }

// pool says what the node measured of a storage pool.
func pool(name string, availGiB int64, err string) nodeOpt {
	return func(n *fsm.Node) {
		n.Pools = append(n.Pools, fsm.PoolUsage{Pool: name, CapacityBytes: 100 << 30, AvailableBytes: availGiB << 30, Error: err})
	}
}

// node adds an alive node "id-<name>" with the given vCPUs and memory and no
// disk size (so disk is not checked unless diskGiB says so).
func (h *harness) node(name string, vcpus int, memMiB int64, opts ...nodeOpt) *harness {
	n := fsm.Node{ID: "id-" + name, Name: name, Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: vcpus, MemoryMiB: memMiB}}
	for _, o := range opts {
		o(&n)
	}
	h.nodes = append(h.nodes, n)
	h.c = nil
	return h
}

// vmOpt changes a VM the harness makes.
type vmOpt func(*fsm.VM)

func placement(vm *fsm.VM) *fsm.PlacementSpec {
	if vm.Spec.Placement == nil {
		vm.Spec.Placement = &fsm.PlacementSpec{}
	}
	return vm.Spec.Placement
}
func selector(kv ...string) vmOpt {
	return func(vm *fsm.VM) {
		p := placement(vm)
		p.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}
func onlyNodes(refs ...string) vmOpt { return func(vm *fsm.VM) { placement(vm).Nodes = refs } }
func preferred(refs ...string) vmOpt { return func(vm *fsm.VM) { placement(vm).PreferredNodes = refs } }
func strategy(s string) vmOpt        { return func(vm *fsm.VM) { placement(vm).Strategy = s } }
func group(name, kind string, hard bool) vmOpt {
	return func(vm *fsm.VM) {
		p := placement(vm)
		p.Groups = append(p.Groups, fsm.GroupRule{Group: name, Kind: kind, Hard: hard})
	}
}
func nic(network string) vmOpt {
	return func(vm *fsm.VM) { vm.Spec.NICs = append(vm.Spec.NICs, fsm.NIC{Network: network}) }
}
func disk(g int64) vmOpt { return func(vm *fsm.VM) { vm.Spec.DiskGiB = g } }

// fromImage gives the VM a root volume of g GiB cloned from an image.
func fromImage(g int64) vmOpt {
	return func(vm *fsm.VM) { vm.Spec.Image, vm.Spec.DiskGiB = "img-1", g }
}
func desired(s fsm.VMState) vmOpt  { return func(vm *fsm.VM) { vm.DesiredState = s } }
func observed(s fsm.VMState) vmOpt { return func(vm *fsm.VM) { vm.State = s } }
func movedAt(at time.Time) vmOpt   { return func(vm *fsm.VM) { vm.MovedAt = at } }
func migrating(id string) vmOpt    { return func(vm *fsm.VM) { vm.Migration = id } }

// newVM makes a running VM "vm-id-<name>" with 1 GiB of disk, not placed and
// not known to the harness.
func newVM(name string, vcpus int, memMiB int64, opts ...vmOpt) *fsm.VM {
	vm := &fsm.VM{ID: "vm-id-" + name, Spec: fsm.VMSpec{Name: name, VCPUs: vcpus, MemoryMiB: memMiB, DiskGiB: 1},
		DesiredState: fsm.VMRunning, State: fsm.VMRunning}
	for _, o := range opts {
		o(vm)
	}
	return vm
}

// vm adds a VM placed on node (a name; "" leaves it pending).
func (h *harness) vm(name, node string, vcpus int, memMiB int64, opts ...vmOpt) *fsm.VM {
	vm := newVM(name, vcpus, memMiB, opts...)
	if node != "" {
		vm.Node = "id-" + node
	} else {
		vm.State = fsm.VMPending
	}
	h.vms = append(h.vms, vm)
	h.c = nil
	return vm
}

// cluster returns the snapshot of what the harness holds, built on first use
// after a change.
func (h *harness) cluster() *Cluster {
	if h.c == nil {
		vms := make([]fsm.VM, len(h.vms))
		for i, vm := range h.vms {
			vms[i] = *vm
		}
		h.c = NewCluster(h.nodes, vms, h.incoming, h.settings)
	}
	return h.c
}

// place runs one placement and records it.
func (h *harness) place(vm *fsm.VM, opts Options) fsm.Decision {
	if opts.At.IsZero() {
		opts.At = t0
	}
	d := h.cluster().Place(vm, opts)
	h.decisions = append(h.decisions, d)
	return d
}

// placeAll places each VM in turn, assigning it where it went, as the leader's
// placement loop does within a round, and returns the node names ("" for none).
func (h *harness) placeAll(vms ...*fsm.VM) []string {
	out := make([]string, len(vms))
	for i, vm := range vms {
		d := h.place(vm, Options{})
		if d.OK() {
			h.cluster().Assign(vm, d.Node)
		}
		out[i] = d.NodeName
	}
	return out
}

// dump renders the recorded decisions for a failure message.
func (h *harness) dump() string {
	var b strings.Builder
	for i, d := range h.decisions {
		fmt.Fprintf(&b, "decision %d: node=%q reason=%q\n", i, d.NodeName, d.Reason)
		for _, c := range d.Candidates {
			fmt.Fprintf(&b, "  candidate %s score=%.3f parts=%v\n", c.NodeName, c.Score, c.Parts)
		}
		for _, r := range d.Rejected {
			fmt.Fprintf(&b, "  rejected %s %s: %s\n", r.NodeName, r.Kind, r.Reason)
		}
	}
	return b.String()
}

// rejection returns the rejection of node name in d, failing if there is none.
func rejection(t *testing.T, d fsm.Decision, name string) fsm.Rejection {
	t.Helper()
	for _, r := range d.Rejected {
		if r.NodeName == name {
			return r
		}
	}
	t.Fatalf("node %s not rejected in %+v", name, d)
	return fsm.Rejection{}
}

// candidate returns the candidate score of node name in d.
func candidate(t *testing.T, d fsm.Decision, name string) fsm.CandidateScore {
	t.Helper()
	for _, c := range d.Candidates {
		if c.NodeName == name {
			return c
		}
	}
	t.Fatalf("node %s not a candidate in %+v", name, d)
	return fsm.CandidateScore{}
}
