package api

import (
	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// Conversions of VMs and tokens (see convert.go).

// toFSMSpec converts the body of a create or update into the spec the FSM keeps.
func toFSMSpec(req client.VMRequest) fsm.VMSpec {
	spec := fsm.VMSpec{
		Name: req.Name, VCPUs: req.VCPUs, MemoryMiB: req.MemoryMiB, DiskGiB: req.DiskGiB, Labels: req.Labels,
		RestartPolicy: req.RestartPolicy, Placement: toFSMPlacement(req.Placement),
	}
	if h := req.HA; h != nil {
		ha := fsm.HASpec(*h)
		spec.HA = &ha
	}
	if b := req.Boot; b != nil {
		boot := fsm.BootSource(*b)
		spec.Boot = &boot
	}
	for _, n := range req.NICs {
		spec.NICs = append(spec.NICs, fsm.NIC(n))
	}
	spec.Image, spec.Pool = req.Image, req.Pool
	if ci := req.CloudInit; ci != nil {
		c := fsm.CloudInit(*ci)
		spec.CloudInit = &c
	}
	return spec
}

// toClientVM converts a VM; nodeName is the name of its node, "" when it has
// none or the node is gone.
func toClientVM(vm fsm.VM, nodeName string) client.VM {
	out := client.VM{
		ID: vm.ID, Project: vm.Project, Name: vm.Spec.Name, VCPUs: vm.Spec.VCPUs, MemoryMiB: vm.Spec.MemoryMiB, DiskGiB: vm.Spec.DiskGiB,
		Labels: vm.Spec.Labels, DesiredState: string(vm.DesiredState), State: string(vm.State),
		Node: vm.Node, NodeName: nodeName, Generation: vm.Generation, Error: vm.Error,
		Placement: toClientPlacement(vm.Spec.Placement), PlacementReason: vm.Placement, Decision: toClientDecision(vm.Decision),
		Migration: vm.Migration, MovedAt: optTime(vm.MovedAt),
		HA:            toClientHA(vm.Spec.HA),
		RestartPolicy: vm.Spec.EffectiveRestartPolicy(), Crashes: vm.Crashes, LastCrash: vm.LastCrash,
		LastCrashAt: optTime(vm.LastCrashAt),
		Restarting:  vm.RestartSeq > vm.ReportedRestartSeq,
		CreatedAt:   vm.CreatedAt, UpdatedAt: vm.UpdatedAt,
	}
	for _, n := range vm.Spec.NICs {
		out.NICs = append(out.NICs, client.NIC(n))
	}
	if b := vm.Spec.Boot; b != nil {
		boot := client.BootSource(*b)
		out.Boot = &boot
	}
	if vm.Spec.Image != "" || vm.Spec.CloudInit != nil {
		out.Image, out.Pool = vm.Spec.Image, vm.Spec.EffectivePool()
	}
	out.LocalDisks = vm.LocalDisks
	for _, sn := range vm.Snapshots {
		out.Snapshots = append(out.Snapshots, toClientSnapshot(sn))
	}
	if ci := vm.Spec.CloudInit; ci != nil {
		c := client.CloudInit(*ci)
		out.CloudInit = &c
	}
	return out
}

// toClientHA converts a VM's HA policy; nil stays nil.
func toClientHA(h *fsm.HASpec) *client.HASpec {
	if h == nil {
		return nil
	}
	out := client.HASpec(*h)
	return &out
}

// toClientToken converts a token; secret is shown only in the answer to its
// creation ("" leaves it out). The hash never leaves the cluster.
func toClientToken(t fsm.Token, secret string) client.Token {
	return client.Token{ID: t.ID, Name: t.Name, Role: t.Role, User: ownerOf(t), Project: t.Project, Secret: secret,
		CreatedAt: t.CreatedAt, ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt)}
}

func toClientSnapshot(sn fsm.VMSnapshot) client.VMSnapshot {
	return client.VMSnapshot{Name: sn.Name, Memory: sn.Memory, State: string(sn.State), Error: sn.Error, CreatedAt: sn.CreatedAt, UpdatedAt: sn.UpdatedAt}
}
