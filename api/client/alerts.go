package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Alert is one rule's alert about one object (GET /api/v1/alerts).
type Alert struct {
	// ID is the rule, the object's type and its ID: "host_failed:node:7d37...".
	ID         string            `json:"id"`
	Rule       string            `json:"rule"`
	Severity   string            `json:"severity"`
	ObjectType string            `json:"object_type"`
	ObjectID   string            `json:"object_id"`
	ObjectName string            `json:"object_name,omitempty"`
	Project    string            `json:"project,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// State is pending, firing, acknowledged or resolved.
	State        string            `json:"state"`
	Value        float64           `json:"value,omitempty"`
	Message      string            `json:"message,omitempty"`
	PendingSince time.Time         `json:"pending_since"`
	FiredAt      time.Time         `json:"fired_at,omitempty"`
	AckedAt      time.Time         `json:"acked_at,omitempty"`
	AckedBy      string            `json:"acked_by,omitempty"`
	ResolvedAt   time.Time         `json:"resolved_at,omitempty"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Notified     map[string]string `json:"notified,omitempty"`
	// Silenced says a silence mutes its notifications now.
	Silenced bool `json:"silenced,omitempty"`
}

// AlertRule is a condition the leader watches (GET /api/v1/alert-rules);
// built-in rules are listed with built_in true.
type AlertRule struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Severity    string            `json:"severity"`
	Description string            `json:"description,omitempty"`
	Object      string            `json:"object,omitempty"`
	Metric      string            `json:"metric,omitempty"`
	Op          string            `json:"op,omitempty"`
	Threshold   float64           `json:"threshold,omitempty"`
	Clear       *float64          `json:"clear,omitempty"`
	ForSeconds  int64             `json:"for_seconds,omitempty"`
	Event       string            `json:"event,omitempty"`
	Project     string            `json:"project,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	BuiltIn     bool              `json:"built_in,omitempty"`
	Disabled    bool              `json:"disabled,omitempty"`
	CreatedAt   time.Time         `json:"created_at,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at,omitempty"`
}

// Silence mutes the notifications of the alerts it matches for a while.
type Silence struct {
	ID        string            `json:"id,omitempty"`
	Rule      string            `json:"rule,omitempty"`
	Severity  string            `json:"severity,omitempty"`
	Project   string            `json:"project,omitempty"`
	Object    string            `json:"object,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Comment   string            `json:"comment,omitempty"`
	CreatedBy string            `json:"created_by,omitempty"`
	StartsAt  time.Time         `json:"starts_at,omitempty"`
	EndsAt    time.Time         `json:"ends_at,omitempty"`
	// Duration, in a request, ends the silence that long after it starts
	// ("2h"), instead of ends_at.
	Duration string `json:"duration,omitempty"`
}

// AlertTarget is where notifications go: a webhook (signed with HMAC-SHA256
// over its secret) or mail. The secret is write-only: has_secret says
// whether one is set.
type AlertTarget struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	URL        string            `json:"url,omitempty"`
	Secret     string            `json:"secret,omitempty"`
	HasSecret  bool              `json:"has_secret,omitempty"`
	To         []string          `json:"to,omitempty"`
	Severities []string          `json:"severities,omitempty"`
	Project    string            `json:"project,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	CreatedAt  time.Time         `json:"created_at,omitempty"`
}

// Alerts lists the alerts the caller may read, newest change first; state
// keeps those in one state ("" all).
func (c *Client) Alerts(ctx context.Context, state string) ([]Alert, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	var out []Alert
	err := c.do(ctx, http.MethodGet, apiPrefix+"/alerts", q, nil, &out)
	return out, err
}

// AckAlert acknowledges an alert: it stays acknowledged until its
// condition ends.
func (c *Client) AckAlert(ctx context.Context, id string) (*Alert, error) {
	if err := requireID("alert", id); err != nil {
		return nil, err
	}
	var out Alert
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/alerts/%s/ack", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AlertRules lists the rules in force.
func (c *Client) AlertRules(ctx context.Context) ([]AlertRule, error) {
	var out []AlertRule
	err := c.do(ctx, http.MethodGet, apiPrefix+"/alert-rules", nil, nil, &out)
	return out, err
}

// PutAlertRule creates or replaces a rule (or overrides a built-in one).
func (c *Client) PutAlertRule(ctx context.Context, r AlertRule) (*AlertRule, error) {
	var out AlertRule
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/alert-rules", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Silences lists the silences.
func (c *Client) Silences(ctx context.Context) ([]Silence, error) {
	var out []Silence
	err := c.do(ctx, http.MethodGet, apiPrefix+"/silences", nil, nil, &out)
	return out, err
}

// CreateSilence mutes the alerts s matches.
func (c *Client) CreateSilence(ctx context.Context, s Silence) (*Silence, error) {
	var out Silence
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/silences", nil, s, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSilence ends a silence.
func (c *Client) DeleteSilence(ctx context.Context, id string) error {
	if err := requireID("silence", id); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/silences/%s", id), nil, nil, nil)
}

// AlertTargets lists the notification targets (without their secrets).
func (c *Client) AlertTargets(ctx context.Context) ([]AlertTarget, error) {
	var out []AlertTarget
	err := c.do(ctx, http.MethodGet, apiPrefix+"/alert-targets", nil, nil, &out)
	return out, err
}

// PutAlertTarget creates or replaces a notification target.
func (c *Client) PutAlertTarget(ctx context.Context, t AlertTarget) (*AlertTarget, error) {
	var out AlertTarget
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/alert-targets", nil, t, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAlertTarget removes a notification target.
func (c *Client) DeleteAlertTarget(ctx context.Context, name string) error {
	if err := requireID("alert target", name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/alert-targets/%s", name), nil, nil, nil)
}
