package api

import (
	"os"
	"sort"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// checkSpec validates a VM spec on its own (fsm.ValidateSpec) and against the
// cluster, so a spec no host could run is refused with a 4xx before anything
// reaches Raft or a hypervisor: more vCPUs or memory than the largest node has, a
// network that no node has, a boot file that does not exist.
func (s *Server) checkSpec(spec fsm.VMSpec) error {
	if err := fsm.ValidateSpec(spec); err != nil {
		return err
	}
	if err := fsm.ValidateSpecText(spec); err != nil {
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
	if s.cfg.CheckBootFiles && spec.Boot != nil {
		b := spec.Boot
		for _, f := range []struct{ field, path string }{{"boot.kernel", b.Kernel}, {"boot.initrd", b.Initrd}, {"boot.disk", b.Disk}} {
			if f.path == "" {
				continue
			}
			if !strings.HasPrefix(f.path, "/") {
				return invalidf("%s %q must be an absolute path", f.field, f.path)
			}
			info, err := os.Stat(f.path)
			if err != nil {
				return invalidf("%s %q does not exist or cannot be read: %v", f.field, f.path, err)
			}
			if !info.Mode().IsRegular() {
				return invalidf("%s %q is not a regular file", f.field, f.path)
			}
		}
	}
	return nil
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
