package fsm

import "strconv"

// Limits on a VM's placement constraints, so a decision stays cheap to make.
const (
	MaxPlacementNodes  = 64
	MaxPlacementGroups = 16
)

// ValidatePlacement checks a VM's placement constraints on their own: a known
// strategy, well-formed labels, bounded node lists, and group rules of a known
// kind, each group named once. Whether named nodes exist is the API's check: a
// node may leave later, and the VM then waits with the reason.
func ValidatePlacement(p *PlacementSpec) error {
	if p == nil {
		return nil
	}
	switch p.Strategy {
	case "", StrategyBinpack, StrategySpread:
	default:
		return errorf(ErrInvalid, "placement.strategy must be binpack or spread, got %q", p.Strategy)
	}
	if err := ValidateLabels("placement.node_selector", p.NodeSelector); err != nil {
		return err
	}
	for _, l := range p.NodeLists() {
		if len(l.Refs) > MaxPlacementNodes {
			return errorf(ErrInvalid, "%s has %d entries, at most %d are allowed", l.Field, len(l.Refs), MaxPlacementNodes)
		}
		for i, ref := range l.Refs {
			if ref == "" || len(ref) > 128 {
				return errorf(ErrInvalid, "%s[%d] must be a node name or ID", l.Field, i)
			}
		}
	}
	if len(p.Groups) > MaxPlacementGroups {
		return errorf(ErrInvalid, "placement.groups has %d entries, at most %d are allowed", len(p.Groups), MaxPlacementGroups)
	}
	seen := map[string]bool{}
	for i, g := range p.Groups {
		if err := ValidateName("placement.groups["+strconv.Itoa(i)+"].group", g.Group); err != nil {
			return err
		}
		if g.Kind != GroupAffinity && g.Kind != GroupAntiAffinity {
			return errorf(ErrInvalid, "placement.groups[%d].kind must be affinity or anti-affinity, got %q", i, g.Kind)
		}
		if seen[g.Group] {
			return errorf(ErrInvalid, "placement.groups[%d]: group %q is named twice", i, g.Group)
		}
		seen[g.Group] = true
	}
	return nil
}
