package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/alerting"
	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// Alerts (issue 16): GET /api/v1/alerts (each caller sees the alerts of
// what it may read), POST /api/v1/alerts/{id}/ack, the rules
// (/api/v1/alert-rules), silences (/api/v1/silences) and notification
// targets (/api/v1/alert-targets). The leader evaluates the rules and
// notifies (package alerting); the API only reads and writes the records.

var alertObject = objectLoader{"alert", alertProject}

func alertProject(s *Server, _ *http.Request, ps httprouter.Params) (string, error) {
	a, err := s.state.Alert(ps.ByName("id"))
	if err != nil {
		return "", err
	}
	return a.Project, nil
}

// alertStates are the states ?state= takes.
var alertStates = []string{string(fsm.AlertPending), string(fsm.AlertFiring), string(fsm.AlertAcknowledged), string(fsm.AlertResolved)}

func (s *Server) listAlerts(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	state := r.URL.Query().Get("state")
	if state != "" && !slices.Contains(alertStates, state) {
		return nil, invalidf("query parameter state: %q: use pending, firing, acknowledged or resolved", state)
	}
	project := r.URL.Query().Get(projectParam)
	now, silences := time.Now(), s.state.Silences()
	out := []client.Alert{}
	for _, a := range s.state.Alerts() {
		if (state != "" && string(a.State) != state) || (project != "" && a.Project != project) || !pr.Allowed(a.Project, authz.Read("alert")) {
			continue
		}
		out = append(out, toClientAlert(a, alerting.Silenced(now, silences, a)))
	}
	return out, nil
}

func (s *Server) getAlert(_ *http.Request, ps httprouter.Params) (any, error) {
	a, err := s.state.Alert(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return toClientAlert(a, alerting.Silenced(time.Now(), s.state.Silences(), a)), nil
}

func (s *Server) ackAlert(r *http.Request, ps httprouter.Params) (any, error) {
	pr := caller(r.Context())
	id := ps.ByName("id")
	idx, err := s.cluster.Apply(r.Context(), &fsm.AckAlert{ID: id, By: pr.User, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	a, err := s.state.Alert(id)
	if err != nil {
		return nil, err
	}
	return written(toClientAlert(a, alerting.Silenced(time.Now(), s.state.Silences(), a)), idx), nil
}

func (s *Server) listAlertRules(_ *http.Request, _ httprouter.Params) (any, error) {
	rules := alerting.Rules(s.state.AlertRules())
	out := make([]client.AlertRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, toClientAlertRule(r))
	}
	return out, nil
}

// putAlertRule creates or replaces a rule; one named as a built-in rule
// overrides it (to change it or disable it).
func (s *Server) putAlertRule(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.AlertRule
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	rule := fsm.AlertRule{Name: req.Name, Kind: req.Kind, Severity: req.Severity, Description: req.Description, Object: req.Object,
		Metric: req.Metric, Op: req.Op, Threshold: req.Threshold, Clear: req.Clear, ForSeconds: req.ForSeconds, Event: req.Event,
		Project: req.Project, Labels: req.Labels, BuiltIn: alerting.IsBuiltIn(req.Name), Disabled: req.Disabled}
	if err := fsm.ValidateAlertRule(rule); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.PutAlertRule{Rule: rule, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	for _, got := range alerting.Rules(s.state.AlertRules()) {
		if got.Name == rule.Name {
			return written(toClientAlertRule(got), idx), nil
		}
	}
	return nil, errorf(fsm.ErrNotFound, "alert rule %q not found", rule.Name)
}

func (s *Server) deleteAlertRule(r *http.Request, ps httprouter.Params) (any, error) {
	name := ps.ByName("name")
	if alerting.IsBuiltIn(name) {
		return nil, errorf(fsm.ErrState, "alert rule %s is built in: disable it (POST /api/v1/alert-rules with disabled true) instead", name)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteAlertRule{Name: name})
	if err != nil {
		return nil, err
	}
	return written(map[string]string{"deleted": name}, idx), nil
}

func (s *Server) listSilences(_ *http.Request, _ httprouter.Params) (any, error) {
	out := []client.Silence{}
	for _, si := range s.state.Silences() {
		out = append(out, toClientSilence(si))
	}
	return out, nil
}

// maxSilence bounds a silence's duration, as the state does.
const maxSilence = 90 * 24 * time.Hour

func (s *Server) createSilence(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.Silence
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	start := req.StartsAt
	if start.IsZero() {
		start = time.Now().UTC()
	}
	end := req.EndsAt
	if req.Duration != "" {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 || d > maxSilence {
			return nil, invalidf("field duration: %q is not a duration from 1s to %s", req.Duration, maxSilence)
		}
		end = start.Add(d)
	}
	if end.IsZero() {
		return nil, invalidf("a silence needs ends_at or duration")
	}
	si := fsm.Silence{ID: ids.New(), Rule: req.Rule, Severity: req.Severity, Project: req.Project, Object: req.Object, Labels: req.Labels,
		Comment: req.Comment, CreatedBy: caller(r.Context()).User, StartsAt: start.UTC(), EndsAt: end.UTC()}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateSilence{Silence: si, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	return created(toClientSilence(si), idx), nil
}

func (s *Server) deleteSilence(r *http.Request, ps httprouter.Params) (any, error) {
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteSilence{ID: ps.ByName("id")})
	if err != nil {
		return nil, err
	}
	return written(map[string]string{"deleted": ps.ByName("id")}, idx), nil
}

func (s *Server) listAlertTargets(_ *http.Request, _ httprouter.Params) (any, error) {
	out := []client.AlertTarget{}
	for _, t := range s.state.AlertTargets() {
		out = append(out, toClientAlertTarget(t))
	}
	return out, nil
}

func (s *Server) putAlertTarget(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.AlertTarget
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	t := fsm.AlertTarget{Name: req.Name, Kind: req.Kind, URL: req.URL, Secret: req.Secret, To: req.To, Severities: req.Severities,
		Project: req.Project, Labels: req.Labels, CreatedAt: time.Now().UTC()}
	if err := fsm.ValidateAlertTarget(t); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.PutAlertTarget{Target: t})
	if err != nil {
		return nil, err
	}
	return created(toClientAlertTarget(t), idx), nil
}

func (s *Server) deleteAlertTarget(r *http.Request, ps httprouter.Params) (any, error) {
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteAlertTarget{Name: ps.ByName("name")})
	if err != nil {
		return nil, err
	}
	return written(map[string]string{"deleted": ps.ByName("name")}, idx), nil
}

func toClientAlert(a fsm.Alert, silenced bool) client.Alert {
	notified := map[string]string{}
	for k, v := range a.Notified {
		notified[k] = string(v)
	}
	return client.Alert{ID: a.ID, Rule: a.Rule, Severity: a.Severity, ObjectType: a.ObjectType, ObjectID: a.ObjectID, ObjectName: a.ObjectName,
		Project: a.Project, Labels: a.Labels, State: string(a.State), Value: a.Value, Message: a.Message, PendingSince: a.PendingSince,
		FiredAt: a.FiredAt, AckedAt: a.AckedAt, AckedBy: a.AckedBy, ResolvedAt: a.ResolvedAt, UpdatedAt: a.UpdatedAt, Notified: notified,
		Silenced: silenced}
}

func toClientAlertRule(r fsm.AlertRule) client.AlertRule {
	return client.AlertRule{Name: r.Name, Kind: r.Kind, Severity: r.Severity, Description: r.Description, Object: r.Object, Metric: r.Metric,
		Op: r.Op, Threshold: r.Threshold, Clear: r.Clear, ForSeconds: r.ForSeconds, Event: r.Event, Project: r.Project, Labels: r.Labels,
		BuiltIn: r.BuiltIn, Disabled: r.Disabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func toClientSilence(si fsm.Silence) client.Silence {
	return client.Silence{ID: si.ID, Rule: si.Rule, Severity: si.Severity, Project: si.Project, Object: si.Object, Labels: si.Labels,
		Comment: si.Comment, CreatedBy: si.CreatedBy, StartsAt: si.StartsAt, EndsAt: si.EndsAt}
}

// toClientAlertTarget shows a target without its secret.
func toClientAlertTarget(t fsm.AlertTarget) client.AlertTarget {
	return client.AlertTarget{Name: t.Name, Kind: t.Kind, URL: t.URL, HasSecret: t.Secret != "", To: t.To, Severities: t.Severities,
		Project: t.Project, Labels: t.Labels, CreatedAt: t.CreatedAt}
}
