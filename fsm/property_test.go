package fsm

import (
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// randomCommand draws a command over small pools of IDs and names, so that
// conflicts, stale generations, unknown IDs and full nodes all happen often.
func randomCommand(rng *rand.Rand, f *testFSM) Command {
	nodeIDs := []string{"n0", "n1", "n2", "n-gone"}
	statuses := []NodeStatus{NodeAlive, NodeAlive, NodeSuspect, NodeFailed, NodeLeft}
	actions := []string{ActionStart, ActionStop, ActionRestart, ActionPause, ActionResume}
	states := []VMState{VMRunning, VMStopped, VMPaused, VMError}
	node := func() string { return nodeIDs[rng.Intn(len(nodeIDs))] }
	vmID := func() string { return numbered("vm", rng.Intn(10)) }
	spec := func() VMSpec {
		return testSpec(numbered("name", rng.Intn(8)), int64(256*(1+rng.Intn(8))), 1+rng.Intn(4))
	}
	// generation is usually the VM's current one, sometimes a stale guess.
	generation := func(id string) uint64 {
		if vm, err := f.VM(id); err == nil && rng.Intn(4) != 0 {
			return vm.Generation
		}
		return uint64(rng.Intn(3))
	}
	labelKeys := []string{"rack", "zone", "gpu"}
	labels := func() map[string]string {
		out := map[string]string{}
		for range rng.Intn(3) {
			out[labelKeys[rng.Intn(len(labelKeys))]] = numbered("v", rng.Intn(2))
		}
		return out
	}
	switch rng.Intn(15) {
	case 0:
		// Names are drawn apart from IDs so two nodes sometimes want the same one.
		n := testNode(nodeIDs[rng.Intn(3)], numbered("node", rng.Intn(3)), int64(1024*(1+rng.Intn(8))), 2+rng.Intn(8))
		n.Labels = labels()
		return RegisterNode{Node: n, At: t0}
	case 12:
		c := SetNodeLabels{ID: node(), Set: labels()}
		if rng.Intn(2) == 0 {
			c.Unset = []string{labelKeys[rng.Intn(len(labelKeys))]}
		}
		return c
	case 1:
		return SetNodeStatus{ID: node(), Status: statuses[rng.Intn(len(statuses))], At: t0}
	case 2:
		return RemoveNode{ID: node()}
	case 3, 4:
		c := CreateVM{ID: vmID(), Spec: spec(), At: t0, Project: []string{"", DefaultProject, "p1", "p2"}[rng.Intn(4)]}
		if rng.Intn(2) == 0 {
			c.Node = node()
		}
		return c
	case 5:
		return UpdateVM{ID: vmID(), Spec: spec(), At: t0}
	case 6:
		return DeleteVM{ID: vmID()}
	case 14:
		// Projects: p1 with a small quota (created before any VM, so the
		// usage never passes it), p2 without; deleted and made again.
		switch rng.Intn(4) {
		case 0:
			return CreateProject{Project: Project{Name: "p1", Quota: Quota{VCPUs: ptr(int64(6)), VMs: ptr(int64(3))}}}
		case 1:
			return CreateProject{Project: Project{Name: "p2"}}
		case 2:
			return DeleteProject{Name: []string{"p1", "p2", DefaultProject}[rng.Intn(3)]}
		default:
			return UpdateProject{Name: "p2", Quota: Quota{VMs: ptr(int64(rng.Intn(4)))}, At: t0}
		}
	case 13:
		if rng.Intn(10) == 0 {
			return DomainRemoved{Node: node(), VMIDs: make([]string, MaxDomainsRemoved+1)} // refused: too many
		}
		return DomainRemoved{Node: node(), VMIDs: []string{vmID(), vmID()}}
	case 7:
		return VMAction{ID: vmID(), Action: actions[rng.Intn(len(actions))], At: t0}
	case 8, 9:
		id := vmID()
		return PlaceVM{ID: id, Node: node(), FromGeneration: generation(id), At: t0}
	default:
		id := vmID()
		n := node()
		// Hosts always name themselves; an empty Node is TestReportVM_UnplacedVMRefused.
		if vm, err := f.VM(id); err == nil && vm.Node != "" && rng.Intn(4) != 0 {
			n = vm.Node
		}
		return ReportVM{ID: id, Node: n, Generation: generation(id), State: states[rng.Intn(len(states))], RestartSeq: uint64(rng.Intn(3)), At: t0}
	}
}

// checkInvariants recomputes the derived indexes from the records and compares.
func checkInvariants(t *testing.T, step int, cmd Command, f *FSM) {
	t.Helper()
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.s
	indexed := 0
	for node, ids := range s.removalsByNode {
		for id := range ids {
			if r := s.removals[id]; r == nil || r.Node != node {
				t.Fatalf("step %d (%s): removal %s indexed under node %s, table has %+v", step, cmd.Type(), id, node, r)
			}
			indexed++
		}
	}
	if indexed != len(s.removals) {
		t.Fatalf("step %d (%s): %d removals indexed by node, %d in the table", step, cmd.Type(), indexed, len(s.removals))
	}
	alloc := map[string]Capacity{}
	names := map[string]string{}
	usage := map[string]Usage{}
	for id, vm := range s.vms {
		k := nameKey(vm.Project, vm.Spec.Name)
		if other, dup := names[k]; dup {
			t.Fatalf("step %d (%s): vms %s and %s share name %q in project %q", step, cmd.Type(), id, other, vm.Spec.Name, vm.Project)
		}
		names[k] = id
		if _, ok := s.projects[vm.Project]; !ok {
			t.Fatalf("step %d (%s): vm %s is in project %q, which does not exist", step, cmd.Type(), id, vm.Project)
		}
		usage[vm.Project] = usage[vm.Project].plus(usageOf(&vm.Spec), 1)
		if vm.Node != "" {
			a := alloc[vm.Node]
			a.VCPUs += vm.Spec.VCPUs
			a.MemoryMiB += vm.Spec.MemoryMiB
			a.DiskGiB += vm.Spec.DiskGiB
			alloc[vm.Node] = a
		}
		if (vm.Node == "") != (vm.State == VMPending) {
			t.Fatalf("step %d (%s): vm %+v is pending iff unplaced, broken", step, cmd.Type(), vm)
		}
		if vm.ReportedRestartSeq > vm.RestartSeq {
			t.Fatalf("step %d (%s): vm %+v reported a restart nobody asked for", step, cmd.Type(), vm)
		}
	}
	attached := map[string][]string{}
	for id, v := range s.volumes {
		usage[v.Project] = usage[v.Project].plus(Usage{DiskGiB: v.SizeGiB}, 1)
		if v.VM == "" {
			continue
		}
		if _, ok := s.vms[v.VM]; !ok || v.Target == "" || v.Attachment == "" {
			t.Fatalf("step %d (%s): volume %+v is attached to a vm that is gone, or has no target", step, cmd.Type(), v)
		}
		attached[v.VM] = append(attached[v.VM], id)
	}
	for vm, ids := range s.vmVolumes {
		if !reflect.DeepEqual(slices.Sorted(slices.Values(ids)), slices.Sorted(slices.Values(attached[vm]))) {
			t.Fatalf("step %d (%s): vm %s's volume index %v, recomputed %v", step, cmd.Type(), vm, ids, attached[vm])
		}
	}
	if len(attached) != len(s.vmVolumes) {
		t.Fatalf("step %d (%s): volume index %v, recomputed %v", step, cmd.Type(), s.vmVolumes, attached)
	}
	byNode, pending := map[string]map[string]struct{}{}, map[string]struct{}{}
	for id, vm := range s.vms {
		if vm.Node == "" {
			pending[id] = struct{}{}
			continue
		}
		if byNode[vm.Node] == nil {
			byNode[vm.Node] = map[string]struct{}{}
		}
		byNode[vm.Node][id] = struct{}{}
	}
	if !reflect.DeepEqual(byNode, s.byNode) || !reflect.DeepEqual(pending, s.pending) {
		t.Fatalf("step %d (%s): node index %v / pending %v, recomputed %v / %v", step, cmd.Type(), s.byNode, s.pending, byNode, pending)
	}
	if !reflect.DeepEqual(alloc, s.allocated) {
		t.Fatalf("step %d (%s %+v): allocated %+v, recomputed from vms %+v", step, cmd.Type(), cmd, s.allocated, alloc)
	}
	states := map[VMState]int{}
	for _, vm := range s.vms {
		states[vm.State]++
	}
	if !reflect.DeepEqual(states, s.vmStates) {
		t.Fatalf("step %d (%s): counts by state %v, recomputed %v", step, cmd.Type(), s.vmStates, states)
	}
	if !reflect.DeepEqual(usage, s.usage) {
		t.Fatalf("step %d (%s): usage by project %v, recomputed %v", step, cmd.Type(), s.usage, usage)
	}
	for name, p := range s.projects {
		for _, l := range p.Quota.limits(Usage{}) {
			// A quota lowered below the usage is allowed; growth past it is not,
			// which the random sequence's quotas (set before any VM) check.
			if l.limit != nil && l.used(usage[name]) > *l.limit && p.UpdatedAt.IsZero() {
				t.Fatalf("step %d (%s): project %s uses %d %s, its quota is %d", step, cmd.Type(), name, l.used(usage[name]), l.name, *l.limit)
			}
		}
	}
	if !reflect.DeepEqual(names, s.vmByName) {
		t.Fatalf("step %d (%s): name index %v, recomputed %v", step, cmd.Type(), s.vmByName, names)
	}
	ordered := slices.Sorted(maps.Keys(names))
	var inTree []string
	s.vmNames.Ascend(func(n string) bool { inTree = append(inTree, n); return true })
	if !slices.Equal(ordered, inTree) {
		t.Fatalf("step %d (%s): ordered names %v, recomputed %v", step, cmd.Type(), inTree, ordered)
	}
	for id, n := range s.nodes {
		if want := mergeLabels(n.HostLabels, n.SetLabels); !maps.Equal(n.Labels, want) {
			t.Fatalf("step %d (%s): node %s labels %v, want its host's %v with the set %v over them", step, cmd.Type(), id, n.Labels, n.HostLabels, n.SetLabels)
		}
	}
	hashes := map[string]string{}
	for id, tok := range s.tokens {
		hashes[tok.Hash] = id
	}
	if !reflect.DeepEqual(hashes, s.tokenByHash) {
		t.Fatalf("step %d (%s): hash index %v, recomputed %v", step, cmd.Type(), s.tokenByHash, hashes)
	}
}

func TestApply_RandomSequenceKeepsIndexes(t *testing.T) {
	rng := rand.New(rand.NewSource(20250301))
	f := newTestFSM(t)
	outcomes := map[CommandType][2]int{}
	for step := 0; step < 5000; step++ {
		cmd := randomCommand(rng, f)
		err := f.apply(cmd)
		o := outcomes[cmd.Type()]
		if err == nil {
			o[0]++
		} else {
			o[1]++
			if ErrorCode(err) == "" {
				t.Fatalf("step %d: %s refused without a sentinel: %v", step, cmd.Type(), err)
			}
		}
		outcomes[cmd.Type()] = o
		checkInvariants(t, step, cmd, f.FSM)
		// Every so often the state must survive a snapshot unchanged.
		if step%500 == 499 {
			g := New()
			if err := restoreBytes(g, snapshotBytes(t, f.FSM)); err != nil {
				t.Fatalf("step %d: restore: %v", step, err)
			}
			assertSameState(t, dump(f.FSM), dump(g))
			checkInvariants(t, step, cmd, g)
		}
	}
	// The sequence must exercise both outcomes of every command it draws, or the
	// property says little.
	for typ, o := range outcomes {
		if o[0] == 0 || o[1] == 0 {
			t.Errorf("%s: %d applied, %d refused; want both", typ, o[0], o[1])
		}
	}
}

func TestApply_SameLogSameState(t *testing.T) {
	// Two FSMs fed the same log hold the same state: Apply is deterministic.
	rng := rand.New(rand.NewSource(99))
	a, b := newTestFSM(t), newTestFSM(t)
	for step := 0; step < 2000; step++ {
		cmd := randomCommand(rng, a)
		errA, errB := a.apply(cmd), b.apply(cmd)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("step %d: %s gave %v on one FSM and %v on the other", step, cmd.Type(), errA, errB)
		}
	}
	assertSameState(t, dump(a.FSM), dump(b.FSM))
}
