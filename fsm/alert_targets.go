package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// Silences and notification targets of the alerting state (alert_types.go
// has the rules and the alerts; alert.go the commands).

// Silence mutes the notifications of the alerts it matches between
// StartsAt and EndsAt; the alerts still show. An empty matcher matches
// everything.
type Silence struct {
	ID        string            `json:"id"`
	Rule      string            `json:"rule,omitempty"`
	Severity  string            `json:"severity,omitempty"`
	Project   string            `json:"project,omitempty"`
	Object    string            `json:"object,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Comment   string            `json:"comment,omitempty"`
	CreatedBy string            `json:"created_by,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
	EndsAt    time.Time         `json:"ends_at"`
}

// AlertTarget is where the notifications of the alerts it matches go: a
// webhook (the body signed with HMAC-SHA256 over Secret) or mail to To.
type AlertTarget struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	URL  string `json:"url,omitempty"`
	// Secret signs webhook bodies; the API never shows it.
	Secret string   `json:"secret,omitempty"`
	To     []string `json:"to,omitempty"`
	// Severities, Project and Labels choose the alerts (empty: all).
	Severities []string          `json:"severities,omitempty"`
	Project    string            `json:"project,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}
