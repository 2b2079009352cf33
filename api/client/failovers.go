package client

import (
	"context"
	"net/url"
	"time"
)

// FailoverVM is one VM of a failover: where it was restarted (node empty when
// it fit nowhere; reason says why) and when it ran again.
type FailoverVM struct {
	VMID       string     `json:"vm_id"`
	VMName     string     `json:"vm_name"`
	Node       string     `json:"node,omitempty"`
	NodeName   string     `json:"node_name,omitempty"`
	Generation uint64     `json:"generation,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	RunningAt  *time.Time `json:"running_at,omitempty"`
	// RunningAfterMs is the time from the host's last lease renewal (or the
	// detection) to the VM running again.
	RunningAfterMs int64 `json:"running_after_ms,omitempty"`
}

// Failover is the record of one host failure: each step with its time, and
// the milliseconds each took counted from the host's last lease renewal.
type Failover struct {
	ID          string       `json:"id"`
	Node        string       `json:"node"`
	NodeName    string       `json:"node_name"`
	Cause       string       `json:"cause"`
	LastRenewal *time.Time   `json:"last_renewal,omitempty"`
	DetectedAt  time.Time    `json:"detected_at"`
	FencedAt    time.Time    `json:"fenced_at"`
	RestartedAt time.Time    `json:"restarted_at"`
	CompletedAt *time.Time   `json:"completed_at,omitempty"`
	VMs         []FailoverVM `json:"vms"`
	// LeftBehind are the host's VMs that were not restarted elsewhere, each
	// with why (HA off, meant to be stopped, migrating): they stay unknown on
	// the failed host until it returns.
	LeftBehind []FailoverVM `json:"left_behind,omitempty"`
	// DetectedAfterMs, FencedAfterMs and RestartedAfterMs count from the last
	// renewal (from the detection when this leader never heard from the host).
	DetectedAfterMs  int64 `json:"detected_after_ms"`
	FencedAfterMs    int64 `json:"fenced_after_ms"`
	RestartedAfterMs int64 `json:"restarted_after_ms"`
}

// Failovers lists failover records, newest first, every page; node (ID or
// name) filters.
func (c *Client) Failovers(ctx context.Context, node string) ([]Failover, error) {
	q := url.Values{}
	if node != "" {
		q.Set("node", node)
	}
	return listAll[Failover](ctx, c, apiPrefix+"/failovers", q)
}

// Failover returns one failover record.
func (c *Client) Failover(ctx context.Context, id string) (*Failover, error) {
	if err := requireID("failover", id); err != nil {
		return nil, err
	}
	var out Failover
	if err := c.get(ctx, pathf(apiPrefix+"/failovers/%s", id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
