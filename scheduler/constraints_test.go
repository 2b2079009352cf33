package scheduler

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// TestPlace_SoftRulesMoveScoresButNotFilters checks that soft affinity, soft
// anti-affinity and preferred nodes each change the winner against the
// strategy, are recorded in the score's parts, and never beat a hard filter.
func TestPlace_SoftRulesMoveScoresButNotFilters(t *testing.T) {
	// busy holds the group members and is the most loaded, so spread alone
	// would pick idle.
	build := func() *harness {
		h := newHarness(t).node("busy", 8, 8192).node("idle", 8, 8192).node("mid", 8, 8192)
		h.vm("app-1", "busy", 4, 4096, group("app", fsm.GroupAffinity, false), group("noisy", fsm.GroupAntiAffinity, false))
		h.vm("filler", "mid", 2, 2048)
		return h
	}
	cases := []struct {
		name   string
		opts   []vmOpt
		want   string
		part   string
		value  float64 // the part's value on the winner
		reason string
	}{
		{name: "none", want: "idle"},
		{name: "soft affinity", opts: []vmOpt{group("app", fsm.GroupAffinity, false)}, want: "busy", part: partAffinity, value: 1,
			reason: "spread: busy scores best with the vm's preferences (strategy 0.41, affinity +1; cpu 62%, memory 56% after placing); 3 of 3 nodes fit"},
		{name: "soft anti-affinity", opts: []vmOpt{group("noisy", fsm.GroupAntiAffinity, false), preferred("busy")}, want: "idle", part: partAntiAffinity, value: 0},
		{name: "preferred", opts: []vmOpt{preferred("mid")}, want: "mid", part: partPreferred, value: 1},
		{name: "preferred by id", opts: []vmOpt{preferred("id-mid")}, want: "mid", part: partPreferred, value: 1},
		{name: "soft affinity loses to a hard selector", opts: []vmOpt{group("app", fsm.GroupAffinity, false), onlyNodes("idle", "mid")}, want: "idle", part: partAffinity, value: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := build()
			d := h.place(newVM("new", 1, 512, tc.opts...), Options{})
			if d.NodeName != tc.want {
				t.Fatalf("placed on %q, want %q\n%s", d.NodeName, tc.want, h.dump())
			}
			if tc.part != "" {
				if v, ok := d.Candidates[0].Parts.Get(tc.part); !ok || v != tc.value {
					t.Fatalf("part %s of the winner = %v (present %v), want %v: %+v", tc.part, v, ok, tc.value, d.Candidates[0])
				}
			}
			if tc.reason != "" && d.Reason != tc.reason {
				t.Fatalf("reason %q\nwant   %q", d.Reason, tc.reason)
			}
			for _, c := range d.Candidates {
				sum := 0.0
				for _, part := range c.Parts {
					sum += part.Value
				}
				if diff := sum - c.Score; diff > 1e-9 || diff < -1e-9 {
					t.Fatalf("candidate %+v: parts do not add up to the score", c)
				}
			}
		})
	}
	// The soft anti-affinity member on busy costs it one point.
	d := build().place(newVM("new", 1, 512, group("noisy", fsm.GroupAntiAffinity, false)), Options{})
	if p, _ := candidate(t, d, "busy").Parts.Get(partAntiAffinity); p != -1 {
		t.Fatalf("busy anti-affinity part %v, want -1", p)
	}
	// A preferred node in maintenance is never chosen.
	h := build()
	h.nodes[2].Maintenance = true
	if d := h.place(newVM("new", 1, 512, preferred("mid")), Options{}); d.NodeName != "idle" {
		t.Fatalf("preferred node in maintenance chosen: %+v", d)
	}
}

func TestPlace_HardAffinityPullsToGroupNode(t *testing.T) {
	h := newHarness(t).node("a", 16, 16384).node("b", 16, 16384).node("c", 16, 16384)
	db := func(name string) *fsm.VM { return newVM(name, 1, 512, group("db", fsm.GroupAffinity, true)) }
	// No member placed yet: the first goes where the strategy says.
	if got := h.placeAll(db("db-1")); got[0] != "a" {
		t.Fatalf("first member on %v", got)
	}
	// Load a so spread would leave it; the group still pulls there.
	h.cluster().Assign(newVM("load", 12, 12288), "id-a")
	if got := h.placeAll(db("db-2"), db("db-3")); !reflect.DeepEqual(got, []string{"a", "a"}) {
		t.Fatalf("members placed on %v, want a, a\n%s", got, h.dump())
	}
	// Members split 3 on a and 1 on b (moved by hand): the node with most wins.
	c := h.cluster()
	c.Assign(db("db-4"), "id-b")
	d := h.place(db("db-5"), Options{})
	if d.NodeName != "a" || rejection(t, d, "b").Reason != `affinity group "db" runs on a (3 members)` {
		t.Fatalf("decision %+v", d)
	}
	// Where a is full, the VM waits rather than break the group.
	c.Assign(newVM("fill", 3, 3072), "id-a")
	d = h.place(db("db-5"), Options{})
	if d.OK() || d.RejectedCounts.Get(RejectAffinity) != 2 || d.RejectedCounts.Get(RejectMemory) != 1 {
		t.Fatalf("decision %+v", d)
	}
}

func TestPlace_HardAntiAffinityLeavesFourthPending(t *testing.T) {
	h := newHarness(t).node("n1", 8, 8192).node("n2", 8, 8192).node("n3", 8, 8192)
	web := func(i int) *fsm.VM {
		return newVM(fmt.Sprintf("web-%d", i), 1, 512, group("web", fsm.GroupAntiAffinity, true))
	}
	got := h.placeAll(web(1), web(2), web(3), web(4))
	if want := []string{"n1", "n2", "n3", ""}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements %v, want %v\n%s", got, want, h.dump())
	}
	d := h.decisions[3]
	want := `no node fits: n1: anti-affinity group "web" already has 1 member here; n2: anti-affinity group "web" already has 1 member here; n3: anti-affinity group "web" already has 1 member here`
	if d.Reason != want || d.RejectedCounts.Get(RejectAntiAffinity) != 3 || len(d.Rejected) != 3 {
		t.Fatalf("decision %+v\nwant reason %q", d, want)
	}
	// A VM outside the group is not affected.
	if got := h.placeAll(newVM("other", 1, 512)); got[0] == "" {
		t.Fatalf("a vm outside the group found no node")
	}
}

// TestPlace_ExplanationsCappedAt100Nodes checks that a decision over 100
// nodes lists MaxExplained candidates and rejections and counts them all.
func TestPlace_ExplanationsCappedAt100Nodes(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 100; i++ {
		var opts []nodeOpt
		switch {
		case i%10 < 4: // 40 nodes in the wrong zone
			opts = append(opts, labels("zone", "b"))
		case i%10 < 7: // 30 nodes too small
			opts = append(opts, labels("zone", "a"))
		default: // 30 nodes fit, with different loads
			opts = append(opts, labels("zone", "a"))
		}
		mem := int64(8192)
		if i%10 >= 4 && i%10 < 7 {
			mem = 1024
		}
		h.node(fmt.Sprintf("node-%03d", i), 8, mem, opts...)
		if i%10 >= 7 {
			h.vm(fmt.Sprintf("load-%03d", i), fmt.Sprintf("node-%03d", i), 1, int64(64*(i%23)))
		}
	}
	vm := newVM("v", 2, 2048, selector("zone", "a"))
	d := h.place(vm, Options{})
	if d.Considered != 100 || d.Feasible != 30 || len(d.Candidates) != fsm.MaxExplained || len(d.Rejected) != fsm.MaxExplained {
		t.Fatalf("considered %d feasible %d candidates %d rejected %d", d.Considered, d.Feasible, len(d.Candidates), len(d.Rejected))
	}
	if want := map[string]int{RejectNodeSelector: 40, RejectMemory: 30}; !reflect.DeepEqual(d.RejectedCounts.Map(), want) {
		t.Fatalf("rejected counts %v, want %v", d.RejectedCounts, want)
	}
	// Rejections are the first ones by name; candidates the best, best first.
	if d.Rejected[0].NodeName != "node-000" || d.Rejected[4].NodeName != "node-004" || d.Rejected[4].Kind != RejectMemory {
		t.Fatalf("rejected %+v", d.Rejected[:5])
	}
	for i := 1; i < len(d.Candidates); i++ {
		if d.Candidates[i].Score > d.Candidates[i-1].Score {
			t.Fatalf("candidates not best first: %+v", d.Candidates)
		}
	}
	if d.Candidates[0].NodeName != d.NodeName {
		t.Fatalf("winner %s is not the first candidate %+v", d.NodeName, d.Candidates[0])
	}
	// Check the cap keeps the true best: score every feasible node by hand.
	best, bestName := -1.0, ""
	for i := 0; i < 100; i++ {
		if i%10 < 7 {
			continue
		}
		used := float64(64 * (i % 23))
		s := 1 - ((2.0/8)+(used+2048)/8192)/2
		if s > best {
			best, bestName = s, fmt.Sprintf("node-%03d", i)
		}
	}
	if d.NodeName != bestName {
		t.Fatalf("chose %s, want %s", d.NodeName, bestName)
	}
	// With no fit among many nodes the reason counts each kind with an example.
	d = h.place(newVM("huge", 2, 100000, selector("zone", "a")), Options{})
	want := "no node fits among 100 nodes: 60 memory (e.g. node-004: 1024 MiB free, needs 100000), 40 node-selector (e.g. node-000: label zone=b, needs zone=a)"
	if d.OK() || d.Reason != want {
		t.Fatalf("reason %q\nwant   %q", d.Reason, want)
	}
	if !strings.HasPrefix(d.Rejected[0].Reason, "label zone=b") {
		t.Fatalf("rejected %+v", d.Rejected[0])
	}
}
