package fsm

import (
	"maps"
	"slices"
	"strings"
)

// AlertRules returns the stored alert rules (overrides of built-in ones
// included), by name.
func (f *FSM) AlertRules() []AlertRule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]AlertRule, 0, len(f.s.alertRules))
	for _, r := range f.s.alertRules {
		c := *r
		c.Labels = maps.Clone(r.Labels)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b AlertRule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Alerts returns every alert, newest change first.
func (f *FSM) Alerts() []Alert {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Alert, 0, len(f.s.alerts))
	for _, a := range f.s.alerts {
		out = append(out, cloneAlert(a))
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Alert returns one alert.
func (f *FSM) Alert(id string) (Alert, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.s.alerts[id]
	if !ok {
		return Alert{}, errorf(ErrNotFound, "alert %q not found", id)
	}
	return cloneAlert(a), nil
}

func cloneAlert(a *Alert) Alert {
	c := *a
	c.Labels, c.Notified = maps.Clone(a.Labels), maps.Clone(a.Notified)
	return c
}

// Silences returns the silences, by end.
func (f *FSM) Silences() []Silence {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Silence, 0, len(f.s.silences))
	for _, s := range f.s.silences {
		c := *s
		c.Labels = maps.Clone(s.Labels)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Silence) int {
		if c := a.EndsAt.Compare(b.EndsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// AlertTargets returns the notification targets, by name, with their
// secrets (the API leaves them out).
func (f *FSM) AlertTargets() []AlertTarget {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]AlertTarget, 0, len(f.s.alertTargets))
	for _, t := range f.s.alertTargets {
		c := *t
		c.To, c.Severities, c.Labels = slices.Clone(t.To), slices.Clone(t.Severities), maps.Clone(t.Labels)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b AlertTarget) int { return strings.Compare(a.Name, b.Name) })
	return out
}
