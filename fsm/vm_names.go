package fsm

import (
	"slices"
	"strings"

	"github.com/google/btree"
)

// VM names are indexed twice: by project and name to ID (vmByName), and in
// (project, name) order (vmNames), so a page of the VM list in name order is
// read from where the previous page ended instead of copying and sorting
// every VM (issue 12: the first page of 100,000 VMs in at most 20 ms). Names
// are unique within a project.

// nameSep joins a project and a VM name in an index key. It sorts before any
// character a name may hold, so the keys of one project are contiguous and
// in name order.
const nameSep = "\x00"

// nameKey is the index key of a VM name in a project.
func nameKey(project, name string) string { return project + nameSep + name }

// newNameIndex returns an empty ordered index of names.
func newNameIndex() *btree.BTreeG[string] {
	return btree.NewG(32, func(a, b string) bool { return a < b })
}

// nameVM records vm's name in its project.
func (s *state) nameVM(vm *VM) {
	k := nameKey(vm.Project, vm.Spec.Name)
	s.vmByName[k] = vm.ID
	s.vmNames.ReplaceOrInsert(k)
}

// unnameVM forgets vm's name.
func (s *state) unnameVM(vm *VM) {
	k := nameKey(vm.Project, vm.Spec.Name)
	delete(s.vmByName, k)
	s.vmNames.Delete(k)
}

// VMPageQuery is one page of the VM list: the VMs in (project, name) order
// after (AfterProject, AfterName) (from the start when both are empty), at
// most Max; only those of Project when it is set, on Node when it is set,
// and that Keep accepts when it is set. With Project set, AfterProject is
// ignored.
type VMPageQuery struct {
	Project      string
	AfterProject string
	AfterName    string
	Max          int
	Node         string
	Keep         func(*VM) bool
}

// VMPage returns one page of VMs, copied. It reads from the cursor on, so
// the first page of a large cluster costs the page, not the cluster; a page
// of one node's VMs reads that node's index only. A Keep that accepts few
// VMs still walks the names past the cursor until it has Max.
func (f *FSM) VMPage(q VMPageQuery) []VM {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if q.Project != "" {
		q.AfterProject = q.Project
	}
	after := ""
	if q.AfterProject != "" || q.AfterName != "" {
		after = nameKey(q.AfterProject, q.AfterName)
	}
	// afterCursor compares without building the VM's key: the walk visits
	// every VM of a page, and the first page of 100,000 costs the page.
	afterCursor := func(vm *VM) bool {
		return after == "" || vm.Project > q.AfterProject || (vm.Project == q.AfterProject && vm.Spec.Name > q.AfterName)
	}
	keep := func(vm *VM) bool {
		return (q.Project == "" || vm.Project == q.Project) && afterCursor(vm) &&
			(q.Node == "" || vm.Node == q.Node) && (q.Keep == nil || q.Keep(vm))
	}
	if q.Node != "" {
		var out []VM
		for id := range f.s.byNode[q.Node] {
			if vm := f.s.vms[id]; vm != nil && keep(vm) {
				out = append(out, cloneVM(vm))
			}
		}
		slices.SortFunc(out, func(a, b VM) int {
			return strings.Compare(nameKey(a.Project, a.Spec.Name), nameKey(b.Project, b.Spec.Name))
		})
		return out[:min(len(out), q.Max)]
	}
	out := make([]VM, 0, min(q.Max, 256))
	prefix := ""
	if q.Project != "" {
		prefix = q.Project + nameSep
	}
	visit := func(key string) bool {
		if !strings.HasPrefix(key, prefix) {
			return false // past the project's names
		}
		if vm := f.s.vms[f.s.vmByName[key]]; vm != nil && keep(vm) {
			out = append(out, cloneVM(vm))
		}
		return len(out) < q.Max
	}
	switch {
	case after != "":
		f.s.vmNames.AscendGreaterOrEqual(after, visit)
	case prefix != "":
		f.s.vmNames.AscendGreaterOrEqual(prefix, visit)
	default:
		f.s.vmNames.Ascend(visit)
	}
	return out
}
