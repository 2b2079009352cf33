package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// Alerting (issue 16): rules the leader evaluates, the alerts they raise
// with their states, silences, and where notifications go. The rules
// built into NovaCron live in package alerting; a stored rule of the same
// name overrides one (to change its threshold or disable it).

// AlertState is where an alert is in its life.
type AlertState string

// Alert states: pending while its condition has held for less than its
// rule's duration, firing once it held that long, acknowledged once a user
// said they handle it, resolved once the condition ended.
const (
	AlertPending      AlertState = "pending"
	AlertFiring       AlertState = "firing"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Rule kinds, severities and comparisons.
const (
	AlertRuleMetric = "metric"
	AlertRuleEvent  = "event"

	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// AlertRule is one condition the leader watches.
type AlertRule struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Severity    string `json:"severity"`
	Description string `json:"description,omitempty"`
	// A metric rule compares Metric of every Object ("vm" or "node") with
	// Threshold by Op (">" or "<") and fires once that held ForSeconds;
	// it resolves only once the value is past Clear the other way (the
	// hysteresis that keeps a value hovering at the threshold from
	// flapping); Clear nil is Threshold.
	Object     string   `json:"object,omitempty"`
	Metric     string   `json:"metric,omitempty"`
	Op         string   `json:"op,omitempty"`
	Threshold  float64  `json:"threshold,omitempty"`
	Clear      *float64 `json:"clear,omitempty"`
	ForSeconds int64    `json:"for_seconds,omitempty"`
	// An event rule fires on what the state shows: host_failed,
	// vm_crashed, migration_failed, failover, quota_nearly_used,
	// postgres_lagging.
	Event string `json:"event,omitempty"`
	// Project limits the rule to that project's objects ("" every one).
	Project string            `json:"project,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// BuiltIn marks an override of a built-in rule: it cannot be deleted,
	// only changed or disabled.
	BuiltIn   bool      `json:"built_in,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Alert is one rule's alert about one object.
type Alert struct {
	// ID is the rule's name, the object's type and ID: "host_failed:node:7d37...".
	ID         string            `json:"id"`
	Rule       string            `json:"rule"`
	Severity   string            `json:"severity"`
	ObjectType string            `json:"object_type"`
	ObjectID   string            `json:"object_id"`
	ObjectName string            `json:"object_name,omitempty"`
	Project    string            `json:"project,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	State      AlertState        `json:"state"`
	// Value is the metric's value when the state last changed.
	Value   float64 `json:"value,omitempty"`
	Message string  `json:"message,omitempty"`
	// PendingSince is when the condition began; FiredAt, AckedAt and
	// ResolvedAt when the alert entered each state.
	PendingSince time.Time `json:"pending_since"`
	FiredAt      time.Time `json:"fired_at,omitempty"`
	AckedAt      time.Time `json:"acked_at,omitempty"`
	AckedBy      string    `json:"acked_by,omitempty"`
	ResolvedAt   time.Time `json:"resolved_at,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Notified is the state last notified to each target, so a new leader
	// does not notify again what the old one did.
	Notified map[string]AlertState `json:"notified,omitempty"`
}
