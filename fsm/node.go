package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"slices"
	"time"
)

// RegisterNode records a node's identity, addresses and capacity as gossip
// published them. The leader proposes it when a member appears or its metadata
// changes.
type RegisterNode struct {
	Node Node      `json:"node"`
	At   time.Time `json:"at"`
}

// SetNodeStatus records a membership status change and its cause.
type SetNodeStatus struct {
	ID     string     `json:"id"`
	Status NodeStatus `json:"status"`
	Cause  string     `json:"cause"`
	At     time.Time  `json:"at"`
}

// ReportHost is a host reporting what its hypervisor shows beside the VMs: the
// domains it does not manage.
type ReportHost struct {
	ID      string   `json:"id"`
	Foreign []string `json:"foreign,omitempty"`
}

// MaxForeign bounds how many foreign domain names a node record keeps.
const MaxForeign = 256

// SetMaintenance puts a node in maintenance (or takes it out). A node in
// maintenance gets no new VMs, and the leader migrates its VMs away (a drain).
type SetMaintenance struct {
	ID          string    `json:"id"`
	Maintenance bool      `json:"maintenance"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

// RemoveNode forgets a node that left the cluster.
type RemoveNode struct {
	ID string `json:"id"`
}

func (RegisterNode) Type() CommandType   { return CmdRegisterNode }
func (SetNodeStatus) Type() CommandType  { return CmdSetNodeStatus }
func (RemoveNode) Type() CommandType     { return CmdRemoveNode }
func (ReportHost) Type() CommandType     { return CmdReportHost }
func (SetMaintenance) Type() CommandType { return CmdSetMaintenance }

func (c SetMaintenance) target() (string, string) { return "node", c.ID }

func (c RegisterNode) target() (string, string)  { return "node", c.Node.ID }
func (c SetNodeStatus) target() (string, string) { return "node", c.ID }
func (c RemoveNode) target() (string, string)    { return "node", c.ID }
func (c ReportHost) target() (string, string)    { return "node", c.ID }

func init() {
	register(CmdRegisterNode, "RegisterNode", applyRegisterNode)
	register(CmdSetNodeStatus, "SetNodeStatus", applySetNodeStatus)
	register(CmdRemoveNode, "RemoveNode", applyRemoveNode)
	register(CmdReportHost, "ReportHost", applyReportHost)
	register(CmdSetMaintenance, "SetMaintenance", applySetMaintenance)
}

func applySetMaintenance(s *state, c *SetMaintenance, _ uint64) error {
	n, ok := s.nodes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", c.ID)
	}
	if n.Maintenance == c.Maintenance {
		if c.Maintenance {
			return errorf(ErrState, "node %q is already in maintenance", n.Name)
		}
		return errorf(ErrState, "node %q is not in maintenance", n.Name)
	}
	n.Maintenance, n.MaintenanceReason, n.MaintenanceSince = c.Maintenance, truncate(c.Reason, 256), c.At
	if !c.Maintenance {
		n.MaintenanceReason = ""
	}
	return nil
}

func applyRegisterNode(s *state, c *RegisterNode, _ uint64) error {
	n := c.Node
	if n.ID == "" {
		return errorf(ErrInvalid, "node id is required")
	}
	if err := ValidateName("node name", n.Name); err != nil {
		return err
	}
	for _, other := range s.nodes {
		if other.ID != n.ID && other.Name == n.Name && other.Status != NodeLeft {
			return errorf(ErrConflict, "node name %q is already used by node %s", n.Name, other.ID)
		}
	}
	if !ValidNodeStatus(n.Status) {
		n.Status = NodeAlive
	}
	if old, ok := s.nodes[n.ID]; ok {
		n.JoinedAt = old.JoinedAt
		// Maintenance is an operator's decision; gossip metadata must not undo it.
		n.Maintenance, n.MaintenanceReason, n.MaintenanceSince = old.Maintenance, old.MaintenanceReason, old.MaintenanceSince
		n.History = old.History
		if old.Status == n.Status {
			n.StatusSince, n.StatusCause = old.StatusSince, old.StatusCause
		} else {
			n.StatusSince = c.At
			n.History = appendHistory(n.History, StatusChange{Status: n.Status, Cause: n.StatusCause, At: c.At})
		}
	} else {
		n.JoinedAt, n.StatusSince = c.At, c.At
		n.History = []StatusChange{{Status: n.Status, Cause: n.StatusCause, At: c.At}}
	}
	n.Labels = cloneMap(n.Labels)
	n.Networks = slices.Clone(n.Networks)
	if old, ok := s.nodes[n.ID]; ok {
		n.Foreign = old.Foreign // reported by the host, not by gossip
	} else {
		n.Foreign = nil
	}
	s.nodes[n.ID] = &n
	return nil
}

func applySetNodeStatus(s *state, c *SetNodeStatus, _ uint64) error {
	n, ok := s.nodes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", c.ID)
	}
	if !ValidNodeStatus(c.Status) {
		return errorf(ErrInvalid, "unknown node status %q", c.Status)
	}
	if n.Status == NodeLeft && c.Status != NodeLeft {
		for _, other := range s.nodes {
			if other.ID != n.ID && other.Name == n.Name && other.Status != NodeLeft {
				return errorf(ErrConflict, "node name %q is now used by node %s", n.Name, other.ID)
			}
		}
	}
	if n.Status != c.Status {
		n.Status, n.StatusSince = c.Status, c.At
		n.History = appendHistory(n.History, StatusChange{Status: c.Status, Cause: c.Cause, At: c.At})
	}
	n.StatusCause = c.Cause
	return nil
}

func applyRemoveNode(s *state, c *RemoveNode, _ uint64) error {
	n, ok := s.nodes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", c.ID)
	}
	// A migration from or to it holds room and would finish on a node that no
	// longer exists: it must end first (its hosts settle it, or it is cancelled).
	for id := range s.active {
		if m := s.migrations[id]; m.Source == c.ID || m.Target == c.ID {
			return errorf(ErrState, "node %q takes part in migration %s; it can be removed once that ends", n.Name, id)
		}
	}
	delete(s.nodes, c.ID)
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func applyReportHost(s *state, c *ReportHost, _ uint64) error {
	n, ok := s.nodes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", c.ID)
	}
	if len(c.Foreign) > MaxForeign {
		return errorf(ErrInvalid, "%d foreign domains reported, at most %d are kept", len(c.Foreign), MaxForeign)
	}
	n.Foreign = slices.Clone(c.Foreign)
	slices.Sort(n.Foreign)
	return nil
}

// MaxStatusHistory bounds the status changes a node record keeps.
const MaxStatusHistory = 16

// appendHistory adds a status change, dropping the oldest beyond the bound.
// It copies: records share nothing with earlier copies handed to readers.
func appendHistory(h []StatusChange, c StatusChange) []StatusChange {
	out := make([]StatusChange, 0, min(len(h)+1, MaxStatusHistory))
	if len(h) >= MaxStatusHistory {
		h = h[len(h)-MaxStatusHistory+1:]
	}
	return append(append(out, h...), c)
}
