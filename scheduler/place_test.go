package scheduler

import (
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// TestPlace_EachFilterRejectsWithItsKind builds, for every hard filter, a
// cluster of one node that fails it and one that passes, and checks that the
// VM goes to the good node and that the bad one is rejected with the filter's
// kind and reason; then it removes the good node and checks the no-fit reason.
func TestPlace_EachFilterRejectsWithItsKind(t *testing.T) {
	cases := []struct {
		name     string
		bad      []nodeOpt
		vmOpts   []vmOpt
		vcpus    int
		mem      int64
		setup    func(h *harness) // adds VMs to the cluster
		exclude  bool
		kind     string
		reason   string
		goodOpts []nodeOpt
		// badOnly: the good node would fail too (skip that variant);
		// goodOnly: without the good node the filter has nothing to test.
		badOnly, goodOnly bool
	}{
		{name: "status", bad: []nodeOpt{status(fsm.NodeFailed)}, kind: RejectStatus, reason: "failed, not alive"},
		{name: "suspect", bad: []nodeOpt{status(fsm.NodeSuspect)}, kind: RejectStatus, reason: "suspect, not alive"},
		{name: "maintenance", bad: []nodeOpt{maintenance()}, kind: RejectMaintenance, reason: "in maintenance"},
		{name: "excluded", exclude: true, kind: RejectExcluded, reason: "excluded from this decision"},
		{name: "network", vmOpts: []vmOpt{nic("lab")}, bad: []nodeOpt{networks("default")}, goodOpts: []nodeOpt{networks("default", "lab")},
			kind: RejectNetwork, reason: `no network "lab"`},
		{name: "network unknown to every node", vmOpts: []vmOpt{nic("dmz")}, kind: RejectNetwork, reason: `no network "dmz"`, badOnly: true},
		{name: "memory", mem: 1024, setup: func(h *harness) { h.vm("big", "bad", 1, 7168) }, kind: RejectMemory, reason: "1024 MiB free, needs 2048"},
		{name: "vcpus", vcpus: 4, setup: func(h *harness) { h.vm("busy", "bad", 6, 256) }, kind: RejectVCPUs, reason: "2 vCPUs free, needs 4"},
		{name: "disk", vmOpts: []vmOpt{disk(20)}, bad: []nodeOpt{diskGiB(100)}, setup: func(h *harness) { h.vm("full", "bad", 1, 256, disk(90)) },
			kind: RejectDisk, reason: "10 GiB free, needs 20"},
		{name: "pool full", vmOpts: []vmOpt{fromImage(20)}, bad: []nodeOpt{pool("default", 5, "")}, goodOpts: []nodeOpt{pool("default", 50, "")},
			kind: RejectPool, reason: "pool default has 5.0 GiB free, the root volume needs 20"},
		{name: "pool unusable", vmOpts: []vmOpt{fromImage(1)}, bad: []nodeOpt{pool("default", 50, "shared pool nfs: /mnt/nfs is not a folder")}, goodOpts: []nodeOpt{pool("default", 50, "")},
			kind: RejectPool, reason: "pool default unusable: shared pool nfs: /mnt/nfs is not a folder"},
		{name: "pool not on the host", vmOpts: []vmOpt{fromImage(1)}, bad: []nodeOpt{pool("nfs", 50, "")}, goodOpts: []nodeOpt{pool("default", 50, "")},
			kind: RejectPool, reason: "no pool default on this host yet"},
		{name: "node-selector wrong value", vmOpts: []vmOpt{selector("zone", "a")}, bad: []nodeOpt{labels("zone", "b")}, goodOpts: []nodeOpt{labels("zone", "a", "rack", "r1")},
			kind: RejectNodeSelector, reason: "label zone=b, needs zone=a"},
		{name: "node-selector missing label", vmOpts: []vmOpt{selector("zone", "a", "ssd", "yes")}, bad: []nodeOpt{labels("zone", "a")}, goodOpts: []nodeOpt{labels("zone", "a", "ssd", "yes")},
			kind: RejectNodeSelector, reason: "no label ssd, needs ssd=yes"},
		{name: "nodes by name", vmOpts: []vmOpt{onlyNodes("good", "nowhere")}, kind: RejectNodes, reason: "not in the vm's node list"},
		{name: "nodes by id", vmOpts: []vmOpt{onlyNodes("id-good")}, kind: RejectNodes, reason: "not in the vm's node list"},
		{name: "affinity", vmOpts: []vmOpt{group("db", fsm.GroupAffinity, true)},
			setup: func(h *harness) { h.vm("db-1", "good", 1, 256, group("db", fsm.GroupAffinity, true)) },
			kind:  RejectAffinity, reason: `affinity group "db" runs on good (1 member)`, goodOnly: true},
		{name: "anti-affinity", vmOpts: []vmOpt{group("web", fsm.GroupAntiAffinity, true)},
			setup: func(h *harness) { h.vm("web-1", "bad", 1, 256, group("web", fsm.GroupAntiAffinity, true)) },
			kind:  RejectAntiAffinity, reason: `anti-affinity group "web" already has 1 member here`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, withGood := range []bool{true, false} {
				if (withGood && tc.badOnly) || (!withGood && tc.goodOnly) {
					continue
				}
				h := newHarness(t)
				h.node("bad", 8, 8192, tc.bad...)
				if withGood {
					// The good node is smaller, so spread alone would not pick it.
					h.node("good", 8, 4096, append([]nodeOpt{diskGiB(100)}, tc.goodOpts...)...)
				}
				if tc.setup != nil {
					tc.setup(h)
				}
				vcpus, mem := max(tc.vcpus, 1), max(tc.mem*2, 512)
				vm := newVM("new", vcpus, mem, tc.vmOpts...)
				opts := Options{}
				if tc.exclude {
					opts.Exclude = map[string]bool{"id-bad": true, "id-nowhere": true}
				}
				d := h.place(vm, opts)
				r := rejection(t, d, "bad")
				if r.Kind != tc.kind || r.Reason != tc.reason || r.NodeID != "id-bad" {
					t.Fatalf("rejection %+v, want kind %q reason %q", r, tc.kind, tc.reason)
				}
				if d.RejectedCounts.Get(tc.kind) != 1 || len(d.RejectedCounts) != 1 {
					t.Fatalf("rejected counts %v", d.RejectedCounts)
				}
				if withGood {
					if d.Node != "id-good" || d.Feasible != 1 || d.Considered != 2 {
						t.Fatalf("decision %+v, want the good node\n%s", d, h.dump())
					}
					continue
				}
				if d.OK() || d.Feasible != 0 || d.Candidates != nil {
					t.Fatalf("decision %+v, want none", d)
				}
				if want := "no node fits: bad: " + tc.reason; d.Reason != want {
					t.Fatalf("reason %q\nwant   %q", d.Reason, want)
				}
			}
		})
	}
}

func TestPlace_DiskUncheckedWithoutDiskSize(t *testing.T) {
	h := newHarness(t).node("a", 4, 4096)
	h.vm("huge-disk", "a", 1, 256, disk(1000))
	if d := h.place(newVM("new", 1, 256, disk(5000)), Options{}); d.Node != "id-a" {
		t.Fatalf("decision %+v: a node without a disk size must not refuse for disk", d)
	}
}

func TestPlace_StrategiesPickExpectedNode(t *testing.T) {
	build := func(s string) *harness {
		h := newHarness(t)
		h.settings.Strategy = s
		h.node("node-1", 8, 10240).node("node-2", 8, 10240).node("node-3", 8, 10240).node("node-4", 8, 10240).node("node-5", 8, 512)
		h.vm("a", "node-1", 4, 6144)
		h.vm("b", "node-2", 1, 2048) // least loaded after placing
		h.vm("c", "node-3", 6, 8192) // fullest that still fits
		h.vm("d", "node-4", 2, 4096)
		return h
	}
	vm := newVM("new", 1, 1024)
	d := build(fsm.StrategySpread).place(vm, Options{})
	want := "spread: node-2 is least loaded after placing (cpu 25%, memory 30%); 4 of 5 nodes fit"
	if d.NodeName != "node-2" || d.Strategy != fsm.StrategySpread || d.Reason != want {
		t.Fatalf("spread: %+v\nwant reason %q", d, want)
	}
	if got := names(d.Candidates); !reflect.DeepEqual(got, []string{"node-2", "node-4", "node-1", "node-3"}) {
		t.Fatalf("spread candidates %v", got)
	}
	if c := d.Candidates[0]; c.Score != 0.725 || c.Parts[0] != (fsm.ScorePart{Name: partStrategy, Value: 0.725}) || len(c.Parts) != 1 {
		t.Fatalf("spread best candidate %+v, want score 1-(0.25+0.30)/2", c)
	}
	d = build(fsm.StrategyBinpack).place(vm, Options{})
	want = "binpack: node-3 is the fullest node that fits after placing (cpu 88%, memory 90%); 4 of 5 nodes fit"
	if d.NodeName != "node-3" || d.Strategy != fsm.StrategyBinpack || d.Reason != want {
		t.Fatalf("binpack: %+v\nwant reason %q", d, want)
	}
	if r := rejection(t, d, "node-5"); r.Kind != RejectMemory {
		t.Fatalf("node-5 %+v", r)
	}
}

func TestPlace_VMStrategyOverridesCluster(t *testing.T) {
	h := newHarness(t).node("empty", 8, 8192).node("full", 8, 8192)
	h.settings.Strategy = fsm.StrategyBinpack
	h.vm("x", "full", 6, 6144)
	if d := h.place(newVM("plain", 1, 512), Options{}); d.NodeName != "full" {
		t.Fatalf("cluster binpack: %+v", d)
	}
	d := h.place(newVM("spready", 1, 512, strategy(fsm.StrategySpread)), Options{})
	if d.NodeName != "empty" || d.Strategy != fsm.StrategySpread {
		t.Fatalf("vm override spread: %+v", d)
	}
	h.settings.Strategy = ""
	h.c = nil
	d = h.place(newVM("packy", 1, 512, strategy(fsm.StrategyBinpack)), Options{})
	if d.NodeName != "full" || d.Strategy != fsm.StrategyBinpack {
		t.Fatalf("vm override binpack on a spread cluster: %+v", d)
	}
}

func TestPlace_TiesGoToFirstNameThenID(t *testing.T) {
	nodes := []fsm.Node{
		{ID: "z", Name: "charlie", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096}},
		{ID: "y", Name: "alpha", Status: fsm.NodeLeft, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096}},
		{ID: "x", Name: "alpha", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096}},
		{ID: "w", Name: "bravo", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096}},
	}
	for rot := 0; rot < len(nodes); rot++ {
		c := NewCluster(append(nodes[rot:], nodes[:rot]...), nil, nil, fsm.Settings{})
		d := c.Place(newVM("v", 1, 256), Options{})
		if d.Node != "x" || !reflect.DeepEqual(names(d.Candidates), []string{"alpha", "bravo", "charlie"}) {
			t.Fatalf("rotation %d: %+v", rot, d)
		}
		if d.Rejected[0].NodeID != "y" {
			t.Fatalf("the left alpha (ID y) sorts after ID x: %+v", d.Rejected)
		}
		// A name resolves to the node that has not left.
		if d := c.Place(newVM("v", 1, 256, onlyNodes("alpha")), Options{}); d.Node != "x" {
			t.Fatalf("nodes [alpha]: %+v", d)
		}
	}
}

func TestPlace_NoNodes(t *testing.T) {
	d := NewCluster(nil, nil, nil, fsm.Settings{}).Place(newVM("v", 1, 256), Options{At: t0})
	if d.OK() || d.Reason != "no node fits: the cluster has no nodes" || !d.At.Equal(t0) || d.Strategy != fsm.StrategySpread {
		t.Fatalf("decision %+v", d)
	}
}

func TestPlace_OvercommitChangesFit(t *testing.T) {
	vm := newVM("wide", 12, 12288)
	cases := []struct {
		name     string
		cpu, mem float64
		nodeCPU  float64
		fit      bool
		kind     string
	}{
		{name: "no overcommit", fit: false, kind: RejectMemory},
		{name: "memory only", mem: 2, fit: false, kind: RejectVCPUs},
		{name: "cluster cpu and memory", cpu: 2, mem: 1.5, fit: true},
		{name: "node cpu ratio beats the cluster's", cpu: 1, nodeCPU: 4, mem: 2, fit: true},
		{name: "node ratio below 1 means the cluster's", cpu: 1, nodeCPU: 0.5, mem: 2, fit: false, kind: RejectVCPUs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).node("n", 8, 8192, cpuRatio(tc.nodeCPU))
			h.settings.CPUOvercommit, h.settings.MemoryOvercommit = tc.cpu, tc.mem
			d := h.place(vm, Options{})
			if d.OK() != tc.fit {
				t.Fatalf("decision %+v, want fit %v", d, tc.fit)
			}
			if !tc.fit && d.Rejected[0].Kind != tc.kind {
				t.Fatalf("rejection %+v, want %s", d.Rejected[0], tc.kind)
			}
		})
	}
}

func TestPlace_IncomingReservationsCount(t *testing.T) {
	h := newHarness(t).node("a", 8, 4096).node("b", 8, 2048)
	h.incoming["id-a"] = fsm.Capacity{VCPUs: 2, MemoryMiB: 3072, DiskGiB: 10}
	d := h.place(newVM("v", 1, 2048), Options{})
	if d.NodeName != "b" {
		t.Fatalf("decision %+v: node a has 3 GiB promised to a migration", d)
	}
	if r := rejection(t, d, "a"); r.Reason != "1024 MiB free, needs 2048" {
		t.Fatalf("rejection %+v", r)
	}
}

func TestPlace_AssignMakesNextDecisionSeeThePrevious(t *testing.T) {
	h := newHarness(t).node("a", 4, 4096).node("b", 4, 4096)
	vms := []*fsm.VM{newVM("v1", 1, 1024), newVM("v2", 1, 1024), newVM("v3", 2, 2048), newVM("v4", 2, 2048),
		newVM("v5", 1, 1024), newVM("v6", 1, 1024), newVM("v7", 1, 1024)}
	got := h.placeAll(vms...)
	if want := []string{"a", "b", "a", "b", "a", "b", ""}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements %v, want %v\n%s", got, want, h.dump())
	}
	last := h.decisions[len(h.decisions)-1]
	if want := "no node fits: a: 0 MiB free, needs 1024; b: 0 MiB free, needs 1024"; last.Reason != want {
		t.Fatalf("reason %q\nwant   %q", last.Reason, want)
	}
	c := h.cluster()
	c.unassign(vms[0]) // v1 leaves a
	if d := h.place(vms[6], Options{}); d.NodeName != "a" {
		t.Fatalf("after Unassign(v1): %+v", d)
	}
	c.Assign(vms[1], "id-a") // v2 moves from b to a: a is full again, b has room
	if d := h.place(vms[6], Options{}); d.NodeName != "b" {
		t.Fatalf("after moving v2 to a: %+v\n%s", d, h.dump())
	}
}

// TestPlace_VMDoesNotCountAgainstItself re-places a VM on the full node it
// already holds, and excludes that node to move it away.
func TestPlace_VMDoesNotCountAgainstItself(t *testing.T) {
	h := newHarness(t).node("a", 2, 2048).node("b", 2, 1024)
	vm := h.vm("v", "a", 2, 2048, group("solo", fsm.GroupAntiAffinity, true), group("pair", fsm.GroupAffinity, true))
	d := h.place(vm, Options{})
	if d.NodeName != "a" {
		t.Fatalf("re-placing on its own full node: %+v\n%s", d, h.dump())
	}
	d = h.place(vm, Options{Exclude: map[string]bool{"id-a": true}})
	if d.OK() || rejection(t, d, "a").Kind != RejectExcluded || rejection(t, d, "b").Reason != "1024 MiB free, needs 2048" {
		t.Fatalf("moving away from a: %+v", d)
	}
}

// An unfit node (a live migration's target whose URIs the leader refuses) is
// never chosen, even when it scores best, and its rejection gives the reason.
func TestPlace_UnfitNodesAreSkippedWithTheirReason(t *testing.T) {
	h := newHarness(t).node("a", 8, 8192).node("b", 8, 4096)
	vm := newVM("new", 1, 512)
	d := h.place(vm, Options{Unfit: map[string]string{"id-a": "peer URI refused: qemu+ext", "id-b": ""}})
	if d.NodeName != "b" {
		t.Fatalf("chose %q, want b: %+v", d.NodeName, d)
	}
	if r := rejection(t, d, "a"); r.Kind != RejectExcluded || r.Reason != "peer URI refused: qemu+ext" {
		t.Fatalf("rejection of a: %+v", r)
	}
	// Exclude says why first: the VM's own node is not a target, whatever
	// it publishes.
	d = h.place(vm, Options{Exclude: map[string]bool{"id-b": true}, Unfit: map[string]string{"id-a": "peer URI refused", "id-b": "peer URI refused"}})
	if d.OK() || !strings.Contains(d.Reason, "a: peer URI refused") || rejection(t, d, "b").Reason != "excluded from this decision" {
		t.Fatalf("both ruled out: %+v", d)
	}
}

// names lists the candidates' node names, best first.
func names(cs []fsm.CandidateScore) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.NodeName
	}
	return out
}
