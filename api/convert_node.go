package api

import (
	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// Conversions of nodes, their drains and the state digest (see convert.go).

// toClientNode converts a node: alloc is what its VMs hold, incoming what it
// holds for migrations coming in, set the settings its effective capacity
// follows from, vms how many VMs it holds.
func toClientNode(n fsm.Node, set fsm.Settings, alloc, incoming fsm.Capacity, vms int) client.Node {
	reserved := fsm.Capacity{VCPUs: alloc.VCPUs + incoming.VCPUs, MemoryMiB: alloc.MemoryMiB + incoming.MemoryMiB, DiskGiB: alloc.DiskGiB + incoming.DiskGiB}
	history := make([]client.StatusChange, 0, len(n.History))
	for _, h := range n.History {
		history = append(history, client.StatusChange{Status: string(h.Status), Cause: h.Cause, At: h.At})
	}
	return client.Node{
		StatusHistory: history,
		ID:            n.ID, Name: n.Name, Status: string(n.Status), StatusCause: n.StatusCause, StatusSince: n.StatusSince,
		RaftAddr: n.RaftAddr, APIAddr: n.APIAddr, GossipAddr: n.GossipAddr, Version: n.Version,
		Capacity:          toClientCapacity(n.Capacity),
		Effective:         toClientCapacity(set.EffectiveCapacity(&n)),
		Allocated:         toClientCapacity(alloc),
		Incoming:          toClientCapacity(incoming),
		Reserved:          toClientCapacity(reserved),
		CPUOvercommit:     n.CPUOvercommit,
		Maintenance:       n.Maintenance,
		MaintenanceReason: n.MaintenanceReason,
		MaintenanceSince:  optTime(n.MaintenanceSince),
		Fleet:             n.Fleet,
		Labels:            n.Labels,
		HostLabels:        n.HostLabels,
		SetLabels:         n.SetLabels,
		Hypervisor:        client.Hypervisor(n.Hypervisor),
		Networks:          append([]string{}, n.Networks...),
		ForeignDomains:    append([]string{}, n.Foreign...),
		Pools:             toClientNodePools(n.Pools),
		VMs:               vms,
		JoinedAt:          n.JoinedAt,
	}
}

func toClientCapacity(c fsm.Capacity) client.Capacity { return client.Capacity(c) }

// toClientDigest converts this node's state digest; node is its name.
func toClientDigest(d fsm.Digest, node string) client.Digest {
	return client.Digest{Node: node, AppliedIndex: d.AppliedIndex, SHA256: d.SHA256,
		Nodes: d.Nodes, VMs: d.VMs, Tokens: d.Tokens, Migrations: d.Migrations, Failovers: d.Failovers, Removals: d.Removals, Projects: d.Projects, Users: d.Users, Sessions: d.Sessions, Roles: d.Roles, Audit: d.Audit, Pools: d.Pools, Images: d.Images, Volumes: d.Volumes, Alerting: d.Alerting}
}

// toClientDrainStatus is the node's part of its drain status, with no VMs yet.
func toClientDrainStatus(n fsm.Node) client.DrainStatus {
	return client.DrainStatus{
		NodeID: n.ID, NodeName: n.Name, Maintenance: n.Maintenance, MaintenanceReason: n.MaintenanceReason,
		MaintenanceSince: optTime(n.MaintenanceSince), VMs: []client.DrainVM{}, Unmovable: []client.UnmovableVM{},
	}
}

// toClientDrainVM is a VM left on a draining node, with its migration under
// way (m nil when none).
func toClientDrainVM(vm *fsm.VM, m *fsm.Migration) client.DrainVM {
	out := client.DrainVM{ID: vm.ID, Name: vm.Spec.Name, State: string(vm.State)}
	if m != nil {
		out.Migration = &client.DrainMigration{ID: m.ID, State: string(m.State)}
		if m.Progress != nil {
			out.Migration.Percent = m.Progress.Percent
		}
	}
	return out
}

// toClientUnmovable is a VM of a draining node that no other node can take,
// with the scheduler's reason.
func toClientUnmovable(m fsm.PlannedMove) client.UnmovableVM {
	return client.UnmovableVM{VMID: m.VMID, VMName: m.VMName, Reason: m.Decision.Reason}
}

// toClientNodePools converts a node's pool measures; none is an empty list.
func toClientNodePools(ps []fsm.PoolUsage) []client.NodePool {
	out := make([]client.NodePool, 0, len(ps))
	for _, p := range ps {
		out = append(out, client.NodePool(p))
	}
	return out
}
