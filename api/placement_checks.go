package api

import "github.com/novacron/novacron/fsm"

// checkPlacement checks that the nodes a VM's placement names exist: a typo in
// a hard host affinity would leave the VM pending for ever. The rest of the
// constraints are checked by fsm.ValidateSpec, here and again in Apply.
func (s *Server) checkPlacement(p *fsm.PlacementSpec) error {
	if p == nil {
		return nil
	}
	for _, l := range p.NodeLists() {
		for i, ref := range l.Refs {
			if _, err := s.findNode(ref); err != nil {
				return invalidf("%s[%d] %q is not a node of the cluster (by name or ID)", l.Field, i, ref)
			}
		}
	}
	return nil
}
