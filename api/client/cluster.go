package client

import (
	"context"
	"net/http"
)

// Cluster returns the answering node's view of the cluster: leader, members and
// indexes (GET /api/v1/cluster).
func (c *Client) Cluster(ctx context.Context) (*Cluster, error) {
	var out Cluster
	if err := c.get(ctx, apiPrefix+"/cluster", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Digest returns the answering node's state digest (GET /api/v1/cluster/digest);
// compare it across nodes at one applied index to check that none diverged.
func (c *Client) Digest(ctx context.Context) (*Digest, error) {
	var out Digest
	if err := c.get(ctx, apiPrefix+"/cluster/digest", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Nodes lists the cluster's hosts (GET /api/v1/nodes), every page.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	return listAll[Node](ctx, c, apiPrefix+"/nodes", nil)
}

// Node returns one host by ID or name (GET /api/v1/nodes/{id}).
func (c *Client) Node(ctx context.Context, idOrName string) (*Node, error) {
	if err := requireID("node", idOrName); err != nil {
		return nil, err
	}
	var out Node
	if err := c.get(ctx, pathf(apiPrefix+"/nodes/%s", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Health asks whether the node serves the API (GET /healthz). It needs no
// token. A node that answers with an error status gives an *APIError.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
