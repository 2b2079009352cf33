package client

import (
	"context"
	"net/http"
)

// DrainNode puts a node in maintenance (POST /api/v1/nodes/{id}/drain): it gets
// no new VMs and the leader migrates its VMs away. reason may be "". The answer
// is the drain status right after; follow it with DrainStatus.
func (c *Client) DrainNode(ctx context.Context, idOrName, reason string) (*DrainStatus, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out DrainStatus
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/nodes/%s/drain", idOrName), nil, DrainRequest{Reason: reason}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UndrainNode takes a node out of maintenance (POST /api/v1/nodes/{id}/undrain)
// and returns the node.
func (c *Client) UndrainNode(ctx context.Context, idOrName string) (*Node, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out Node
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/nodes/%s/undrain", idOrName), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetNodeLabels sets and removes an operator's labels on a node
// (POST /api/v1/nodes/{id}/labels) and returns the node.
func (c *Client) SetNodeLabels(ctx context.Context, idOrName string, req NodeLabelsRequest) (*Node, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out Node
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/nodes/%s/labels", idOrName), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DrainStatus shows how far a node's drain has got (GET /api/v1/nodes/{id}/drain).
func (c *Client) DrainStatus(ctx context.Context, idOrName string) (*DrainStatus, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out DrainStatus
	if err := c.get(ctx, pathf(apiPrefix+"/nodes/%s/drain", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FailoverPlan tells where each VM of a node would go if the node died now
// (GET /api/v1/nodes/{id}/failover-plan).
func (c *Client) FailoverPlan(ctx context.Context, idOrName string) (*FailoverPlan, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out FailoverPlan
	if err := c.get(ctx, pathf(apiPrefix+"/nodes/%s/failover-plan", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Settings returns the cluster settings in force (GET /api/v1/settings).
func (c *Client) Settings(ctx context.Context) (*Settings, error) {
	var out Settings
	if err := c.get(ctx, apiPrefix+"/settings", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSettings changes the settings set in u and keeps the others
// (PUT /api/v1/settings). It needs an admin token.
func (c *Client) UpdateSettings(ctx context.Context, u SettingsUpdate) (*Settings, error) {
	var out Settings
	if err := c.do(ctx, http.MethodPut, apiPrefix+"/settings", nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rebalance returns the rebalancer's status (GET /api/v1/rebalance): the
// imbalance, each node's load, the moves it recommends and its recent moves.
func (c *Client) Rebalance(ctx context.Context) (*RebalanceStatus, error) {
	var out RebalanceStatus
	if err := c.get(ctx, apiPrefix+"/rebalance", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
