package client

import (
	"context"
	"net/http"
	"net/url"
)

// MigrateVM asks to move a running VM to another node
// (POST /api/v1/vms/{id}/migrate). The answer is the migration record as
// accepted (state pending); follow it with Migration until it is final.
func (c *Client) MigrateVM(ctx context.Context, idOrName string, req MigrateRequest) (*Migration, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	var out Migration
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/vms/%s/migrate", idOrName), nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListMigrationsOptions filter migrations. Empty fields do not filter.
type ListMigrationsOptions struct {
	// VM keeps the migrations of this VM (ID or name).
	VM string
	// State keeps the migrations in this state (pending, running, ...).
	State string
	// Node keeps the migrations from or to this node (ID or name).
	Node string
}

// Migrations lists migrations, newest first, every page
// (GET /api/v1/migrations?vm=&state=&node=).
func (c *Client) Migrations(ctx context.Context, opts ListMigrationsOptions) ([]Migration, error) {
	q := url.Values{}
	for k, v := range map[string]string{"vm": opts.VM, "state": opts.State, "node": opts.Node} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return listAll[Migration](ctx, c, apiPrefix+"/migrations", q)
}

// Migration returns one migration by ID (GET /api/v1/migrations/{id}).
func (c *Client) Migration(ctx context.Context, id string) (*Migration, error) {
	if err := requireID("migration", id); err != nil {
		return nil, err
	}
	var out Migration
	if err := c.get(ctx, pathf(apiPrefix+"/migrations/%s", id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelMigration asks to stop a migration (POST /api/v1/migrations/{id}/cancel).
// One that has not started copying ends at once (the answer shows it
// cancelled); a running one is aborted by its source, and the answer shows
// cancel_requested.
func (c *Client) CancelMigration(ctx context.Context, id string) (*Migration, error) {
	if err := requireID("migration", id); err != nil {
		return nil, err
	}
	var out Migration
	if err := c.do(ctx, http.MethodPost, pathf(apiPrefix+"/migrations/%s/cancel", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
