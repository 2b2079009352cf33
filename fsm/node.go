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
	// Pools is the host's measure of every pool; it replaces the last.
	Pools []PoolUsage `json:"pools,omitempty"`
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

// SetNodeLabels sets and removes an operator's labels on a node (node label
// set|unset). A label the node's agent publishes itself (--label, the
// hypervisor's) can be overridden, and comes back when the override is
// removed.
type SetNodeLabels struct {
	ID    string            `json:"id"`
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
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
func (SetNodeLabels) Type() CommandType  { return CmdSetNodeLabels }

func (c SetMaintenance) target() (string, string) { return "node", c.ID }
func (c SetNodeLabels) target() (string, string)  { return "node", c.ID }

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
	register(CmdSetNodeLabels, "SetNodeLabels", applySetNodeLabels)
}

func applySetNodeLabels(s *state, c *SetNodeLabels, _ uint64) error {
	n, ok := s.nodes[c.ID]
	if !ok {
		return errorf(ErrNotFound, "node %q not found", c.ID)
	}
	if len(c.Set) == 0 && len(c.Unset) == 0 {
		return errorf(ErrInvalid, "no label to set or unset")
	}
	if len(c.Unset) > MaxLabels {
		return errorf(ErrInvalid, "unset has %d keys, at most %d are allowed", len(c.Unset), MaxLabels)
	}
	if err := ValidateLabels("labels", c.Set); err != nil {
		return err
	}
	set := cloneMap(n.SetLabels)
	for _, k := range c.Unset {
		if _, both := c.Set[k]; both {
			return errorf(ErrInvalid, "label %q is both set and unset", k)
		}
		if _, ok := set[k]; !ok {
			if _, host := n.HostLabels[k]; host {
				return errorf(ErrInvalid, "label %q on node %q comes from its agent (--label or its hypervisor), not from node label set: change it there", k, n.Name)
			}
			return errorf(ErrNotFound, "node %q has no label %q", n.Name, k)
		}
		delete(set, k)
	}
	if set == nil && len(c.Set) > 0 {
		set = make(map[string]string, len(c.Set))
	}
	for k, v := range c.Set {
		set[k] = v
	}
	if err := ValidateLabels("labels", set); err != nil {
		return err
	}
	if len(set) == 0 {
		set = nil
	}
	n.SetLabels = set
	n.Labels = mergeLabels(n.HostLabels, set)
	return nil
}

// mergeLabels is host's labels with set's over them; nil when both are empty.
func mergeLabels(host, set map[string]string) map[string]string {
	if len(host) == 0 && len(set) == 0 {
		return nil
	}
	out := make(map[string]string, len(host)+len(set))
	for k, v := range host {
		out[k] = v
	}
	for k, v := range set {
		out[k] = v
	}
	return out
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
	// Gossip carries the host's own labels in Labels; an operator's stay.
	n.HostLabels = cloneMap(n.Labels)
	n.SetLabels = nil
	if old, ok := s.nodes[n.ID]; ok {
		n.SetLabels = old.SetLabels
	}
	n.Labels = mergeLabels(n.HostLabels, n.SetLabels)
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
	s.dropNodeRemovals(c.ID)
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
	if len(c.Pools) > MaxPools+1 {
		return errorf(ErrInvalid, "%d pools reported, at most %d exist", len(c.Pools), MaxPools+1)
	}
	n.Foreign = slices.Clone(c.Foreign)
	slices.Sort(n.Foreign)
	n.Pools = slices.Clone(c.Pools)
	for i := range n.Pools {
		if len(n.Pools[i].Error) > MaxErrorLen {
			n.Pools[i].Error = n.Pools[i].Error[:MaxErrorLen]
		}
	}
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
