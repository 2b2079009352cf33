package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Bounds of the alerting state.
const (
	MaxAlertRules   = 200
	MaxAlerts       = 10_000
	MaxSilences     = 200
	MaxAlertTargets = 50
	// MaxAlertUpdate bounds the changes of one UpdateAlerts.
	MaxAlertUpdate = 1000
	maxAlertText   = 1024
)

// AlertEvents are the events an event rule may watch.
var AlertEvents = []string{"host_failed", "vm_crashed", "migration_failed", "failover", "quota_nearly_used", "postgres_lagging"}

var metricNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// PutAlertRule creates or replaces a rule (by name).
type PutAlertRule struct {
	Rule AlertRule `json:"rule"`
	At   time.Time `json:"at"`
}

// DeleteAlertRule removes a rule and its alerts; an override of a built-in
// rule cannot go (disable it).
type DeleteAlertRule struct {
	Name string `json:"name"`
}

// UpdateAlerts is the leader's evaluation: alerts raised or changed
// (Upserts), alerts dropped (Remove: long resolved, or their rule gone),
// and notifications sent (Notified).
type UpdateAlerts struct {
	Upserts  []Alert       `json:"upserts,omitempty"`
	Remove   []string      `json:"remove,omitempty"`
	Notified []AlertNotice `json:"notified,omitempty"`
	At       time.Time     `json:"at"`
}

// AlertNotice says that target was told alert ID's State.
type AlertNotice struct {
	ID     string     `json:"id"`
	Target string     `json:"target"`
	State  AlertState `json:"state"`
}

// AckAlert is a user saying they handle an alert: it stays acknowledged
// until its condition ends.
type AckAlert struct {
	ID string    `json:"id"`
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// CreateSilence mutes the notifications of the alerts it matches.
type CreateSilence struct {
	Silence Silence   `json:"silence"`
	At      time.Time `json:"at"`
}

// DeleteSilence ends a silence.
type DeleteSilence struct {
	ID string `json:"id"`
}

// PutAlertTarget creates or replaces a notification target (by name).
type PutAlertTarget struct {
	Target AlertTarget `json:"target"`
}

// DeleteAlertTarget removes a notification target.
type DeleteAlertTarget struct {
	Name string `json:"name"`
}

func (PutAlertRule) Type() CommandType      { return CmdPutAlertRule }
func (DeleteAlertRule) Type() CommandType   { return CmdDeleteAlertRule }
func (UpdateAlerts) Type() CommandType      { return CmdUpdateAlerts }
func (AckAlert) Type() CommandType          { return CmdAckAlert }
func (CreateSilence) Type() CommandType     { return CmdCreateSilence }
func (DeleteSilence) Type() CommandType     { return CmdDeleteSilence }
func (PutAlertTarget) Type() CommandType    { return CmdPutAlertTarget }
func (DeleteAlertTarget) Type() CommandType { return CmdDeleteAlertTarget }

func (c PutAlertRule) target() (string, string)      { return "alert_rule", c.Rule.Name }
func (c DeleteAlertRule) target() (string, string)   { return "alert_rule", c.Name }
func (c AckAlert) target() (string, string)          { return "alert", c.ID }
func (c CreateSilence) target() (string, string)     { return "silence", c.Silence.ID }
func (c DeleteSilence) target() (string, string)     { return "silence", c.ID }
func (c PutAlertTarget) target() (string, string)    { return "alert_target", c.Target.Name }
func (c DeleteAlertTarget) target() (string, string) { return "alert_target", c.Name }

func init() {
	register(CmdPutAlertRule, "PutAlertRule", applyPutAlertRule)
	register(CmdDeleteAlertRule, "DeleteAlertRule", applyDeleteAlertRule)
	register(CmdUpdateAlerts, "UpdateAlerts", applyUpdateAlerts)
	register(CmdAckAlert, "AckAlert", applyAckAlert)
	register(CmdCreateSilence, "CreateSilence", applyCreateSilence)
	register(CmdDeleteSilence, "DeleteSilence", applyDeleteSilence)
	register(CmdPutAlertTarget, "PutAlertTarget", applyPutAlertTarget)
	register(CmdDeleteAlertTarget, "DeleteAlertTarget", applyDeleteAlertTarget)
}

// ValidateAlertRule checks a rule as PutAlertRule does (the API checks it
// first, to answer 400 before anything is written).
func ValidateAlertRule(r AlertRule) error {
	if err := ValidateName("alert rule name", r.Name); err != nil {
		return err
	}
	if !slices.Contains([]string{SeverityInfo, SeverityWarning, SeverityCritical}, r.Severity) {
		return errorf(ErrInvalid, "alert rule %s: severity %q: use info, warning or critical", r.Name, r.Severity)
	}
	if len(r.Description) > maxAlertText {
		return errorf(ErrInvalid, "alert rule %s: description over %d characters", r.Name, maxAlertText)
	}
	if err := ValidateLabels("alert rule labels", r.Labels); err != nil {
		return err
	}
	switch r.Kind {
	case AlertRuleMetric:
		switch {
		case r.Object != "vm" && r.Object != "node":
			return errorf(ErrInvalid, "alert rule %s: object %q: use vm or node", r.Name, r.Object)
		case !metricNameRE.MatchString(r.Metric):
			return errorf(ErrInvalid, "alert rule %s: metric %q is no metric name (cpu_percent, mem_used_bytes, ...)", r.Name, r.Metric)
		case r.Op != ">" && r.Op != "<":
			return errorf(ErrInvalid, "alert rule %s: op %q: use > or <", r.Name, r.Op)
		case r.ForSeconds < 0 || r.ForSeconds > 86400:
			return errorf(ErrInvalid, "alert rule %s: for_seconds %d: from 0 to 86400", r.Name, r.ForSeconds)
		case r.Clear != nil && ((r.Op == ">" && *r.Clear > r.Threshold) || (r.Op == "<" && *r.Clear < r.Threshold)):
			return errorf(ErrInvalid, "alert rule %s: clear %v must be on the resolved side of threshold %v", r.Name, *r.Clear, r.Threshold)
		}
	case AlertRuleEvent:
		if !slices.Contains(AlertEvents, r.Event) {
			return errorf(ErrInvalid, "alert rule %s: event %q: use one of %s", r.Name, r.Event, strings.Join(AlertEvents, ", "))
		}
	default:
		return errorf(ErrInvalid, "alert rule %s: kind %q: use metric or event", r.Name, r.Kind)
	}
	return nil
}

func applyPutAlertRule(s *state, c *PutAlertRule, _ uint64) error {
	r := c.Rule
	if err := ValidateAlertRule(r); err != nil {
		return err
	}
	if r.Project != "" {
		if _, ok := s.projects[r.Project]; !ok {
			return errorf(ErrNotFound, "project %q not found", r.Project)
		}
	}
	old, exists := s.alertRules[r.Name]
	if !exists && len(s.alertRules) >= MaxAlertRules {
		return errorf(ErrConflict, "the cluster holds %d alert rules, the most it may", MaxAlertRules)
	}
	r.CreatedAt, r.UpdatedAt = c.At, c.At
	if exists {
		r.CreatedAt = old.CreatedAt
	}
	r.Labels = maps.Clone(r.Labels)
	s.alertRules[r.Name] = &r
	return nil
}

func applyDeleteAlertRule(s *state, c *DeleteAlertRule, _ uint64) error {
	r, ok := s.alertRules[c.Name]
	if !ok {
		return errorf(ErrNotFound, "alert rule %q not found", c.Name)
	}
	if r.BuiltIn {
		return errorf(ErrState, "alert rule %s is built in: disable it instead", c.Name)
	}
	delete(s.alertRules, c.Name)
	for id, a := range s.alerts {
		if a.Rule == c.Name {
			delete(s.alerts, id)
		}
	}
	return nil
}

func applyUpdateAlerts(s *state, c *UpdateAlerts, _ uint64) error {
	if n := len(c.Upserts) + len(c.Remove) + len(c.Notified); n > MaxAlertUpdate {
		return errorf(ErrInvalid, "%d alert changes in one update, at most %d", n, MaxAlertUpdate)
	}
	for _, a := range c.Upserts {
		if a.ID == "" || len(a.ID) > 512 || a.Rule == "" {
			return errorf(ErrInvalid, "an alert needs an ID (at most 512 characters) and its rule")
		}
		if !slices.Contains([]AlertState{AlertPending, AlertFiring, AlertResolved}, a.State) {
			return errorf(ErrInvalid, "alert %s: state %q: the leader sets pending, firing or resolved", a.ID, a.State)
		}
		if _, ok := s.alerts[a.ID]; !ok && len(s.alerts) >= MaxAlerts {
			return errorf(ErrConflict, "the cluster holds %d alerts, the most it may", MaxAlerts)
		}
	}
	for _, a := range c.Upserts {
		a.Message, a.ObjectName = clip(a.Message, maxAlertText), clip(a.ObjectName, MaxNameLen)
		a.Labels, a.Notified = maps.Clone(a.Labels), nil
		if old, ok := s.alerts[a.ID]; ok {
			a.Notified = maps.Clone(old.Notified)
			if old.State == AlertAcknowledged && a.State == AlertFiring {
				// A user's acknowledgement holds until the condition ends,
				// even against an evaluation that read the state before it.
				a.State, a.AckedAt, a.AckedBy = AlertAcknowledged, old.AckedAt, old.AckedBy
			}
		}
		a.UpdatedAt = c.At
		s.alerts[a.ID] = &a
	}
	for _, id := range c.Remove {
		delete(s.alerts, id)
	}
	for _, n := range c.Notified {
		a, ok := s.alerts[n.ID]
		if !ok {
			continue // removed since: nothing to remember
		}
		cp := *a
		cp.Notified = maps.Clone(a.Notified)
		if cp.Notified == nil {
			cp.Notified = map[string]AlertState{}
		}
		cp.Notified[n.Target] = n.State
		s.alerts[n.ID] = &cp
	}
	return nil
}

func applyAckAlert(s *state, c *AckAlert, _ uint64) error {
	a, ok := s.alerts[c.ID]
	if !ok {
		return errorf(ErrNotFound, "alert %q not found", c.ID)
	}
	switch a.State {
	case AlertAcknowledged:
		return nil // said already
	case AlertResolved:
		return errorf(ErrState, "alert %s is resolved: nothing to acknowledge", c.ID)
	}
	cp := *a
	cp.State, cp.AckedAt, cp.AckedBy, cp.UpdatedAt = AlertAcknowledged, c.At, clip(c.By, MaxNameLen), c.At
	s.alerts[c.ID] = &cp
	return nil
}

func applyCreateSilence(s *state, c *CreateSilence, _ uint64) error {
	si := c.Silence
	switch {
	case si.ID == "" || len(si.ID) > 64:
		return errorf(ErrInvalid, "a silence needs an ID")
	case !si.EndsAt.After(si.StartsAt):
		return errorf(ErrInvalid, "a silence must end after it starts")
	case si.EndsAt.Sub(si.StartsAt) > 90*24*time.Hour:
		return errorf(ErrInvalid, "a silence lasts at most 90 days")
	case len(si.Comment) > maxAlertText || len(si.Rule) > MaxNameLen || len(si.Object) > 256 || len(si.Project) > MaxNameLen:
		return errorf(ErrInvalid, "a silence's matchers and comment are too long")
	}
	if err := ValidateLabels("silence labels", si.Labels); err != nil {
		return err
	}
	if _, dup := s.silences[si.ID]; dup {
		return errorf(ErrConflict, "silence %q already exists", si.ID)
	}
	for id, old := range s.silences {
		if !old.EndsAt.After(c.At) {
			delete(s.silences, id) // ended: room for the new one
		}
	}
	if len(s.silences) >= MaxSilences {
		return errorf(ErrConflict, "the cluster holds %d silences, the most it may", MaxSilences)
	}
	si.Labels = maps.Clone(si.Labels)
	s.silences[si.ID] = &si
	return nil
}

func applyDeleteSilence(s *state, c *DeleteSilence, _ uint64) error {
	if _, ok := s.silences[c.ID]; !ok {
		return errorf(ErrNotFound, "silence %q not found", c.ID)
	}
	delete(s.silences, c.ID)
	return nil
}

// ValidateAlertTarget checks a target as PutAlertTarget does.
func ValidateAlertTarget(t AlertTarget) error {
	if err := ValidateName("alert target name", t.Name); err != nil {
		return err
	}
	switch t.Kind {
	case "webhook":
		if len(t.URL) > 2048 || !(strings.HasPrefix(t.URL, "https://") || strings.HasPrefix(t.URL, "http://")) {
			return errorf(ErrInvalid, "alert target %s: url must be an http or https URL of at most 2048 characters", t.Name)
		}
		if len(t.Secret) > 256 {
			return errorf(ErrInvalid, "alert target %s: secret over 256 characters", t.Name)
		}
	case "email":
		if len(t.To) == 0 || len(t.To) > 20 {
			return errorf(ErrInvalid, "alert target %s: to needs 1 to 20 addresses", t.Name)
		}
		for _, a := range t.To {
			if len(a) > 254 || strings.Count(a, "@") != 1 || strings.ContainsAny(a, " \r\n<>,") {
				return errorf(ErrInvalid, "alert target %s: %q is no mail address", t.Name, a)
			}
		}
	default:
		return errorf(ErrInvalid, "alert target %s: kind %q: use webhook or email", t.Name, t.Kind)
	}
	for _, sev := range t.Severities {
		if !slices.Contains([]string{SeverityInfo, SeverityWarning, SeverityCritical}, sev) {
			return errorf(ErrInvalid, "alert target %s: severity %q: use info, warning or critical", t.Name, sev)
		}
	}
	return ValidateLabels("alert target labels", t.Labels)
}

func applyPutAlertTarget(s *state, c *PutAlertTarget, _ uint64) error {
	t := c.Target
	if err := ValidateAlertTarget(t); err != nil {
		return err
	}
	if _, ok := s.alertTargets[t.Name]; !ok && len(s.alertTargets) >= MaxAlertTargets {
		return errorf(ErrConflict, "the cluster holds %d alert targets, the most it may", MaxAlertTargets)
	}
	t.To, t.Severities, t.Labels = slices.Clone(t.To), slices.Clone(t.Severities), maps.Clone(t.Labels)
	s.alertTargets[t.Name] = &t
	return nil
}

func applyDeleteAlertTarget(s *state, c *DeleteAlertTarget, _ uint64) error {
	if _, ok := s.alertTargets[c.Name]; !ok {
		return errorf(ErrNotFound, "alert target %q not found", c.Name)
	}
	delete(s.alertTargets, c.Name)
	return nil
}
