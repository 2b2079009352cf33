package fsm

import (
	"slices"
	"strings"

	"github.com/google/btree"
)

// VM names are indexed twice: by name to ID (vmByName), and in name order
// (vmNames), so a page of the VM list in name order is read from where the
// previous page ended instead of copying and sorting every VM (issue 12: the
// first page of 100,000 VMs in at most 20 ms). Names are unique.

// newNameIndex returns an empty ordered index of names.
func newNameIndex() *btree.BTreeG[string] {
	return btree.NewG(32, func(a, b string) bool { return a < b })
}

// nameVM records that the VM id is called name.
func (s *state) nameVM(name, id string) {
	s.vmByName[name] = id
	s.vmNames.ReplaceOrInsert(name)
}

// unnameVM forgets name.
func (s *state) unnameVM(name string) {
	delete(s.vmByName, name)
	s.vmNames.Delete(name)
}

// VMPageQuery is one page of the VM list: the VMs in name order after
// AfterName (from the start when empty), at most Max, only those on Node
// when it is set and only those Keep accepts when it is set.
type VMPageQuery struct {
	AfterName string
	Max       int
	Node      string
	Keep      func(*VM) bool
}

// VMPage returns one page of VMs, copied. It reads from the cursor on, so
// the first page of a large cluster costs the page, not the cluster; a page
// of one node's VMs reads that node's index only. A Keep that accepts few
// VMs still walks the names past the cursor until it has Max.
func (f *FSM) VMPage(q VMPageQuery) []VM {
	f.mu.RLock()
	defer f.mu.RUnlock()
	keep := func(vm *VM) bool {
		return vm.Spec.Name > q.AfterName && (q.Node == "" || vm.Node == q.Node) && (q.Keep == nil || q.Keep(vm))
	}
	if q.Node != "" {
		var out []VM
		for id := range f.s.byNode[q.Node] {
			if vm := f.s.vms[id]; vm != nil && keep(vm) {
				out = append(out, cloneVM(vm))
			}
		}
		slices.SortFunc(out, func(a, b VM) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
		return out[:min(len(out), q.Max)]
	}
	out := make([]VM, 0, min(q.Max, 256))
	visit := func(name string) bool {
		if vm := f.s.vms[f.s.vmByName[name]]; vm != nil && keep(vm) {
			out = append(out, cloneVM(vm))
		}
		return len(out) < q.Max
	}
	if q.AfterName == "" {
		f.s.vmNames.Ascend(visit)
	} else {
		f.s.vmNames.AscendGreaterOrEqual(q.AfterName, visit)
	}
	return out
}
