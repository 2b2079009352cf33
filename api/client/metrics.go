package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// MetricsQuery is the window of a metrics history read: Since (the last
// hour when zero), or From and To; Step lets the server choose (about 500
// points) when zero.
type MetricsQuery struct {
	Since    time.Duration
	From, To time.Time
	Step     time.Duration
}

// MetricsHistory is a VM's or a host's samples (GET .../metrics): one
// point per Step seconds, each field's average and maximum over it, nil
// where nothing was sampled.
type MetricsHistory struct {
	Fields []string       `json:"fields"`
	Step   int64          `json:"step"`
	Points []MetricsPoint `json:"points"`
}

// MetricsPoint is one step of a history, its values in Fields' order.
type MetricsPoint struct {
	At  time.Time  `json:"at"`
	Avg []*float64 `json:"avg"`
	Max []*float64 `json:"max"`
}

func (q MetricsQuery) values() url.Values {
	v := url.Values{}
	if q.Since > 0 {
		v.Set("since", q.Since.String())
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	return v
}

// VMMetrics reads a VM's metrics history, from every host that ran it.
func (c *Client) VMMetrics(ctx context.Context, idOrName string, q MetricsQuery) (*MetricsHistory, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	var out MetricsHistory
	if err := c.do(ctx, http.MethodGet, pathf(apiPrefix+"/vms/%s/metrics", idOrName), q.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NodeMetrics reads a host's own metrics history.
func (c *Client) NodeMetrics(ctx context.Context, idOrName string, q MetricsQuery) (*MetricsHistory, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out MetricsHistory
	if err := c.do(ctx, http.MethodGet, pathf(apiPrefix+"/nodes/%s/metrics", idOrName), q.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
