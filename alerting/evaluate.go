package alerting

import (
	"time"

	"github.com/novacron/novacron/fsm"
)

// verdict is what a rule says of one object now.
type verdict int

const (
	// clear: the condition does not hold (past the rule's clear level).
	clear verdict = iota
	// holds: the condition holds.
	holds
	// keep: between the threshold and the clear level: the alert stays as
	// it is (hysteresis).
	keep
)

// observation is one rule's verdict on one object.
type observation struct {
	rule       fsm.AlertRule
	objectType string
	objectID   string
	objectName string
	project    string
	value      float64
	verdict    verdict
	message    string
}

func (o observation) id() string { return o.rule.Name + ":" + o.objectType + ":" + o.objectID }

// resolvedKept is how long a resolved alert stays listed.
const resolvedKept = 24 * time.Hour

// decide turns this round's observations into the changes to write: new
// and changed alerts, and those to drop. An alert whose object no rule
// observed any more (the object went, the rule was disabled or deleted)
// resolves.
func decide(now time.Time, current []fsm.Alert, obs []observation) (upserts []fsm.Alert, remove []string) {
	byID := make(map[string]fsm.Alert, len(current))
	for _, a := range current {
		byID[a.ID] = a
	}
	seen := make(map[string]bool, len(obs))
	for _, o := range obs {
		id := o.id()
		seen[id] = true
		old, exists := byID[id]
		open := exists && old.State != fsm.AlertResolved
		switch {
		case o.verdict == holds && !open:
			a := fsm.Alert{ID: id, Rule: o.rule.Name, Severity: o.rule.Severity, ObjectType: o.objectType, ObjectID: o.objectID,
				ObjectName: o.objectName, Project: o.project, Labels: o.rule.Labels, State: fsm.AlertPending, Value: o.value,
				Message: o.message, PendingSince: now}
			if o.rule.ForSeconds == 0 {
				a.State, a.FiredAt = fsm.AlertFiring, now
			}
			upserts = append(upserts, a)
		case o.verdict == holds && old.State == fsm.AlertPending && now.Sub(old.PendingSince) >= time.Duration(o.rule.ForSeconds)*time.Second:
			old.State, old.FiredAt, old.Value, old.Message = fsm.AlertFiring, now, o.value, o.message
			upserts = append(upserts, old)
		case o.verdict == clear && exists && old.State == fsm.AlertPending:
			remove = append(remove, id) // it never fired: nothing to tell
		case o.verdict == clear && open:
			old.State, old.ResolvedAt, old.Value = fsm.AlertResolved, now, o.value
			upserts = append(upserts, old)
		}
	}
	for _, a := range current {
		switch {
		case seen[a.ID]:
		case a.State == fsm.AlertPending:
			remove = append(remove, a.ID)
		case a.State != fsm.AlertResolved:
			a.State, a.ResolvedAt = fsm.AlertResolved, now
			a.Message = "resolved: its object or its rule is gone"
			upserts = append(upserts, a)
		}
		if a.State == fsm.AlertResolved && !a.ResolvedAt.IsZero() && now.Sub(a.ResolvedAt) > resolvedKept {
			remove = append(remove, a.ID)
		}
	}
	return upserts, remove
}

// compare judges value against a metric rule: over (or under) the
// threshold holds; past the clear level the other way clears; between,
// the alert keeps its state.
func compare(r fsm.AlertRule, value float64) verdict {
	clearAt := r.Threshold
	if r.Clear != nil {
		clearAt = *r.Clear
	}
	switch r.Op {
	case ">":
		if value > r.Threshold {
			return holds
		}
		if value <= clearAt {
			return clear
		}
	case "<":
		if value < r.Threshold {
			return holds
		}
		if value >= clearAt {
			return clear
		}
	}
	return keep
}
