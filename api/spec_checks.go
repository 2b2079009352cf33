package api

import (
	"sort"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// checkSpec validates a VM spec on its own (fsm.ValidateSpec) and against the
// cluster, so a spec no host could run is refused with a 4xx before anything
// reaches Raft or a hypervisor: more vCPUs or memory than the largest node has, a
// network that no node has, a boot file outside the image folders. It records
// the disk's format in spec when the spec leaves it empty (checkBootFiles).
func (s *Server) checkSpec(spec *fsm.VMSpec) error {
	if err := fsm.ValidateSpec(*spec); err != nil {
		return err
	}
	if err := fsm.ValidateSpecText(*spec); err != nil {
		return err
	}
	if err := s.checkPlacement(spec.Placement); err != nil {
		return err
	}
	if l := s.state.Limits(); l.Nodes > 0 {
		if spec.VCPUs > l.MaxVCPUs {
			return invalidf("vcpus %d is more than any node has (the largest has %d)", spec.VCPUs, l.MaxVCPUs)
		}
		if spec.MemoryMiB > l.MaxMemoryMiB {
			return invalidf("memory_mib %d is more than any node has (the largest has %d MiB)", spec.MemoryMiB, l.MaxMemoryMiB)
		}
		for i, nic := range spec.NICs {
			if nic.Network != "" && !l.Networks[nic.Network] {
				return invalidf("nics[%d].network %q does not exist on any node (known networks: %s)", i, nic.Network, knownList(l.Networks))
			}
		}
	}
	return s.checkBootFiles(spec.Boot)
}

func knownList(set map[string]bool) string {
	if len(set) == 0 {
		return "none"
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
