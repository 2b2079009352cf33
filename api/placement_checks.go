package api

import (
	"strconv"

	"github.com/novacron/novacron/fsm"
)

// Limits on a VM's placement constraints, so a decision stays cheap to make.
const (
	maxPlacementNodes  = 64
	maxPlacementGroups = 16
)

// checkPlacement checks a VM's placement constraints on their own and against
// the cluster: a known strategy, well-formed labels, nodes that exist (a typo
// in a hard host affinity would leave the VM pending for ever), and group
// rules of a known kind, each group named once.
func (s *Server) checkPlacement(p *fsm.PlacementSpec) error {
	if p == nil {
		return nil
	}
	switch p.Strategy {
	case "", fsm.StrategyBinpack, fsm.StrategySpread:
	default:
		return invalidf("placement.strategy must be binpack or spread, got %q", p.Strategy)
	}
	if err := fsm.ValidateLabels("placement.node_selector", p.NodeSelector); err != nil {
		return err
	}
	for field, refs := range map[string][]string{"placement.nodes": p.Nodes, "placement.preferred_nodes": p.PreferredNodes} {
		if len(refs) > maxPlacementNodes {
			return invalidf("%s has %d entries, at most %d are allowed", field, len(refs), maxPlacementNodes)
		}
		for i, ref := range refs {
			if _, _, ok := s.state.NodeRef(ref); !ok {
				return invalidf("%s[%d] %q is not a node of the cluster (by name or ID)", field, i, ref)
			}
		}
	}
	if len(p.Groups) > maxPlacementGroups {
		return invalidf("placement.groups has %d entries, at most %d are allowed", len(p.Groups), maxPlacementGroups)
	}
	seen := map[string]bool{}
	for i, g := range p.Groups {
		if err := fsm.ValidateName("placement.groups["+strconv.Itoa(i)+"].group", g.Group); err != nil {
			return err
		}
		if g.Kind != fsm.GroupAffinity && g.Kind != fsm.GroupAntiAffinity {
			return invalidf("placement.groups[%d].kind must be affinity or anti-affinity, got %q", i, g.Kind)
		}
		if seen[g.Group] {
			return invalidf("placement.groups[%d]: group %q is named twice", i, g.Group)
		}
		seen[g.Group] = true
	}
	return nil
}
