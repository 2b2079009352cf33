package fsm

import "slices"

// fits checks that a new VM (or one moving in) may go to node: the node exists,
// is alive and not in maintenance, has the VM's networks, and has room.
func (s *state) fits(nodeID string, spec VMSpec) error {
	n, ok := s.nodes[nodeID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", nodeID)
	}
	if n.Status != NodeAlive {
		return errorf(ErrState, "node %q is %s, not alive", n.Name, n.Status)
	}
	if n.Maintenance {
		return errorf(ErrState, "node %q is in maintenance", n.Name)
	}
	for _, nic := range spec.NICs {
		if nic.Network != "" && !slices.Contains(n.Networks, nic.Network) {
			return errorf(ErrState, "node %q has no network %q", n.Name, nic.Network)
		}
	}
	return s.hasRoom(nodeID, spec)
}

// hasRoom checks only the node's free memory, vCPUs and disk (with the overcommit
// ratios, and counting migrations coming in), whatever its status: a resize of a
// VM on a failed node must still fit there when the node comes back. Disk is
// checked only on nodes that report their disk size.
func (s *state) hasRoom(nodeID string, spec VMSpec) error {
	n, ok := s.nodes[nodeID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", nodeID)
	}
	capa := s.settings.EffectiveCapacity(n)
	a := s.reserved(nodeID)
	if a.MemoryMiB+spec.MemoryMiB > capa.MemoryMiB {
		return errorf(ErrState, "node %q has %d MiB of memory free, vm needs %d", n.Name, capa.MemoryMiB-a.MemoryMiB, spec.MemoryMiB)
	}
	if a.VCPUs+spec.VCPUs > capa.VCPUs {
		return errorf(ErrState, "node %q has %d vCPUs free, vm needs %d", n.Name, capa.VCPUs-a.VCPUs, spec.VCPUs)
	}
	if capa.DiskGiB > 0 && a.DiskGiB+spec.DiskGiB > capa.DiskGiB {
		return errorf(ErrState, "node %q has %d GiB of disk free, vm needs %d", n.Name, capa.DiskGiB-a.DiskGiB, spec.DiskGiB)
	}
	return nil
}

// reserved is what node has promised: its VMs plus migrations coming in.
func (s *state) reserved(nodeID string) Capacity {
	a, in := s.allocated[nodeID], s.incoming[nodeID]
	return Capacity{VCPUs: a.VCPUs + in.VCPUs, MemoryMiB: a.MemoryMiB + in.MemoryMiB, DiskGiB: a.DiskGiB + in.DiskGiB}
}
