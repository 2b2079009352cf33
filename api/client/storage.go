package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Pool is a storage pool (issue 15) with what each host measured of it.
type Pool struct {
	Name string `json:"name"`
	// Type is dir (each host's own folder; disks move with their VM) or
	// shared (one folder mounted on every host; disks survive their host).
	Type string `json:"type"`
	// Path is the pool's folder on every host; "" for a dir pool in each
	// agent's data dir (DATA_DIR/pools/NAME).
	Path        string      `json:"path,omitempty"`
	Description string      `json:"description,omitempty"`
	Hosts       []PoolUsage `json:"hosts"`
	// CapacityBytes and AvailableBytes sum the hosts' figures for a dir
	// pool; for a shared pool they are the largest one host saw.
	CapacityBytes  int64     `json:"capacity_bytes"`
	AvailableBytes int64     `json:"available_bytes"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
}

// PoolUsage is one host's measure of a pool.
type PoolUsage struct {
	Node           string `json:"node"`
	NodeName       string `json:"node_name"`
	CapacityBytes  int64  `json:"capacity_bytes"`
	AvailableBytes int64  `json:"available_bytes"`
	Error          string `json:"error,omitempty"`
}

// NodePool is one pool as a node measured it (Node.Pools).
type NodePool struct {
	Pool           string `json:"pool"`
	CapacityBytes  int64  `json:"capacity_bytes"`
	AvailableBytes int64  `json:"available_bytes"`
	Error          string `json:"error,omitempty"`
}

// PoolRequest is the body of POST /api/v1/storage/pools.
type PoolRequest struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Path        string `json:"path,omitempty"`
	Description string `json:"description,omitempty"`
}

// Image is an imported disk image.
type Image struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	Source  string `json:"source"`
	// State is importing, ready or failed (Error says why).
	State            string `json:"state"`
	Error            string `json:"error,omitempty"`
	Format           string `json:"format,omitempty"`
	SizeBytes        int64  `json:"size_bytes,omitempty"`
	VirtualSizeBytes int64  `json:"virtual_size_bytes,omitempty"`
	SHA256           string `json:"sha256,omitempty"`
	// Hosts name the nodes holding a verified copy (every host of a
	// shared pool reads the one copy).
	Hosts     []string  `json:"hosts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ImageRequest is the body of POST /api/v1/images: Source is a file in one
// of the serving node's image folders (--image-dir) or an http(s) URL on
// the images.url_allow list; SHA256 is required for a URL.
type ImageRequest struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	SHA256 string `json:"sha256,omitempty"`
	Pool   string `json:"pool,omitempty"`
}

// CloudInit is a VM's NoCloud configuration (POST /api/v1/vms
// "cloud_init").
type CloudInit struct {
	Hostname      string   `json:"hostname,omitempty"`
	UserData      string   `json:"user_data,omitempty"`
	SSHKeys       []string `json:"ssh_keys,omitempty"`
	NetworkConfig string   `json:"network_config,omitempty"`
}

// Pools lists the storage pools with each host's figures.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	return listAll[Pool](ctx, c, apiPrefix+"/storage/pools", nil)
}

// CreatePool declares a storage pool.
func (c *Client) CreatePool(ctx context.Context, req PoolRequest) (*Pool, error) {
	var out Pool
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/storage/pools", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePool removes a pool no image or VM uses.
func (c *Client) DeletePool(ctx context.Context, name string) (*Pool, error) {
	if err := requireID("pool", name); err != nil {
		return nil, err
	}
	var out Pool
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/storage/pools/%s", name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Images lists the images of the Client's project (every project with
// allProjects).
func (c *Client) Images(ctx context.Context, allProjects bool) ([]Image, error) {
	q := url.Values{}
	if allProjects {
		q.Set("all-projects", "true")
	}
	return listAll[Image](ctx, c, apiPrefix+"/images", q)
}

// Image returns one image by ID, ID prefix or name.
func (c *Client) Image(ctx context.Context, idOrName string) (*Image, error) {
	if err := requireID("image", idOrName); err != nil {
		return nil, err
	}
	var out Image
	if err := c.get(ctx, pathf(apiPrefix+"/images/%s", idOrName), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportImage starts an import (202): the image is importing until its
// state says ready or failed.
func (c *Client) ImportImage(ctx context.Context, req ImageRequest) (*Image, error) {
	var out Image
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/images", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteImage removes an image no VM is made from.
func (c *Client) DeleteImage(ctx context.Context, idOrName string) (*Image, error) {
	if err := requireID("image", idOrName); err != nil {
		return nil, err
	}
	var out Image
	if err := c.do(ctx, http.MethodDelete, pathf(apiPrefix+"/images/%s", idOrName), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
