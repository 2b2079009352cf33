package fsm

import "strconv"

// The events of a change: one per command (a batch makes one per entry),
// naming the object it changed, and one per audit entry recorded (an
// auditor sees the entries of its projects). Name and Project come from
// the object after the change, or from before it when the change removed
// the object, so the event stream can show a deletion to exactly those who
// could read the object. Nothing here reads a clock: events are part of
// the deterministic apply.

// described is an object's name and project at one moment.
type described struct{ name, project string }

// describeTarget describes the object cmd is about, before cmd applies.
func (s *state) describeTarget(cmd Command) described {
	t, ok := cmd.(interface{ target() (string, string) })
	if !ok {
		return described{}
	}
	return s.describe(t.target())
}

// eventsFor appends the events of cmd, applied at index, to events.
func (s *state) eventsFor(cmd Command, index uint64, before described, events []Event) []Event {
	if c, ok := cmd.(*UpdateAlerts); ok {
		// One event per alert raised or changed; notices change nothing
		// a person follows.
		for _, a := range c.Upserts {
			events = append(events, Event{Index: index, Type: cmd.Type(), Kind: "alert", ID: a.ID, Name: a.Rule + " " + a.ObjectName, Project: a.Project})
		}
		return events
	}
	if c, ok := cmd.(*RecordAudit); ok {
		// applyRecordAudit numbered the batch's entries last.
		first := s.auditSeq - uint64(len(c.Entries)) + 1
		for i, e := range c.Entries {
			events = append(events, Event{Index: index, Type: cmd.Type(), Kind: "audit", ID: strconv.FormatUint(first+uint64(i), 10),
				Name: e.Action, Project: e.Project})
		}
		return events
	}
	ev := Event{Index: index, Type: cmd.Type()}
	if t, ok := cmd.(interface{ target() (string, string) }); ok {
		ev.Kind, ev.ID = t.target()
	}
	if m, ok := s.migrations[ev.ID]; ok && ev.Kind == "migration" {
		ev.VM = m.VMID
	}
	d := s.describe(ev.Kind, ev.ID)
	if d == (described{}) {
		d = before
	}
	ev.Name, ev.Project = d.name, d.project
	return append(events, ev)
}

// describe names object id of kind and its project ("" for the cluster's
// own objects); both are empty for one that does not exist.
func (s *state) describe(kind, id string) described {
	switch kind {
	case "vm":
		if vm, ok := s.vms[id]; ok {
			return described{vm.Spec.Name, vm.Project}
		}
	case "node":
		if n, ok := s.nodes[id]; ok {
			return described{n.Name, ""}
		}
	case "migration":
		if m, ok := s.migrations[id]; ok {
			d := described{name: m.VMName}
			if vm, ok := s.vms[m.VMID]; ok {
				d.project = vm.Project
			}
			return d
		}
	case "image":
		if img, ok := s.images[id]; ok {
			return described{img.Name, img.Project}
		}
	case "volume":
		if v, ok := s.volumes[id]; ok {
			return described{v.Name, v.Project}
		}
	case "token":
		if t, ok := s.tokens[id]; ok {
			return described{t.Name, t.Project}
		}
	case "failover":
		if f, ok := s.failovers[id]; ok {
			return described{f.NodeName, ""}
		}
	case "project":
		if _, ok := s.projects[id]; ok {
			return described{id, id}
		}
	case "alert":
		if a, ok := s.alerts[id]; ok {
			return described{a.Rule + " " + a.ObjectName, a.Project}
		}
	case "pool", "user", "role", "alert_rule", "silence", "alert_target":
		return described{name: id}
	}
	return described{}
}
