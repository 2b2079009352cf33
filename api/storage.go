package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// Storage (issue 15): pools declared for the cluster and measured by each
// host, and images imported into them. An import runs on the node that
// took the request, which checks the source (a file in its image folders,
// an allow-listed URL) before anything is recorded, answers 202 with the
// image importing, and records its end (ready or failed) itself.

// ImageImporter runs this node's imports (*diskstore.Manager).
type ImageImporter interface {
	// CheckSource refuses a source this node would not import from.
	CheckSource(source, sha256 string) error
	// Import imports img, recorded importing by this node, in the
	// background, and records how it ended.
	Import(img fsm.Image, sha256 string)
}

// errNoImports: this node runs no importer.
var errNoImports = errorf(fsm.ErrState, "this node cannot import images")

// listPools shows every pool with each host's measure of it.
func (s *Server) listPools(r *http.Request, _ httprouter.Params) (any, error) {
	nodes := s.state.Nodes()
	return paginate(s, r, s.state.Pools(), byName(func(p fsm.StoragePool) string { return p.Name }, func(p fsm.StoragePool) string { return p.Name }),
		func(p fsm.StoragePool) client.Pool { return toClientPool(p, nodes) })
}

// toClientPool converts a pool with what each live host measured of it.
func toClientPool(p fsm.StoragePool, nodes []fsm.Node) client.Pool {
	out := client.Pool{Name: p.Name, Type: p.Type, Path: p.Path, Description: p.Description, CreatedAt: p.CreatedAt, Hosts: []client.PoolUsage{}}
	for _, n := range nodes {
		if n.Status == fsm.NodeLeft {
			continue
		}
		for _, u := range n.Pools {
			if u.Pool != p.Name {
				continue
			}
			out.Hosts = append(out.Hosts, client.PoolUsage{Node: n.ID, NodeName: n.Name, CapacityBytes: u.CapacityBytes, AvailableBytes: u.AvailableBytes, Error: u.Error})
			if p.Shared() {
				out.CapacityBytes, out.AvailableBytes = max(out.CapacityBytes, u.CapacityBytes), max(out.AvailableBytes, u.AvailableBytes)
			} else {
				out.CapacityBytes += u.CapacityBytes
				out.AvailableBytes += u.AvailableBytes
			}
		}
	}
	return out
}

// createPool declares a pool.
func (s *Server) createPool(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.PoolRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	p := fsm.StoragePool{Name: req.Name, Type: req.Type, Path: req.Path, Description: req.Description, CreatedAt: time.Now().UTC()}
	if err := fsm.ValidatePool(&p); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreatePool{Pool: p})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	got, err := s.state.Pool(p.Name)
	if err != nil {
		return nil, err
	}
	return created(toClientPool(got, s.state.Nodes()), idx), nil
}

// deletePool removes a pool nothing uses.
func (s *Server) deletePool(r *http.Request, ps httprouter.Params) (any, error) {
	p, err := s.state.Pool(ps.ByName("name"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeletePool{Name: p.Name})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientPool(p, nil), idx), nil
}

// findImage finds an image by ID, ID prefix, or name in the request's
// project.
func (s *Server) findImage(r *http.Request, ref string) (fsm.Image, error) {
	project := r.URL.Query().Get(projectParam)
	byName := func(name string) (fsm.Image, error) { return s.state.ImageByName(project, name) }
	return findRecord(s, "image", ref, s.state.Image, byName, func(img fsm.Image) string { return img.Name })
}

// listImages lists the images of the request's project (or, with
// ?all-projects=true, of every project the caller may read).
func (s *Server) listImages(r *http.Request, _ httprouter.Params) (any, error) {
	project, err := s.listProject(r)
	if err != nil {
		return nil, err
	}
	readable, err := readableIn(caller(r.Context()), authz.Read("image"))
	if err != nil {
		return nil, err
	}
	if project != "" && !readable(project) {
		return nil, errorf(authz.ErrForbidden, "%s lacks %s in project %s", caller(r.Context()).Describe(), authz.Read("image"), project)
	}
	imgs := slices.DeleteFunc(s.state.Images(), func(img fsm.Image) bool {
		return (project != "" && img.Project != project) || !readable(img.Project)
	})
	names := s.nodeNames()
	return paginate(s, r, imgs, byName(func(img fsm.Image) string { return img.Project + vmKeySep + img.Name }, func(img fsm.Image) string { return img.ID }),
		func(img fsm.Image) client.Image { return toClientImage(img, names) })
}

// getImage shows one image.
func (s *Server) getImage(r *http.Request, ps httprouter.Params) (any, error) {
	img, err := s.findImage(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return toClientImage(img, s.nodeNames()), nil
}

// importImage checks an import and starts it on this node: 202 with the
// image importing.
func (s *Server) importImage(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.ImageRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateName("name", req.Name); err != nil {
		return nil, err
	}
	if req.Source == "" || len(req.Source) > fsm.MaxImageSource {
		return nil, invalidf("source is required: an absolute file path in an image folder of the node, or an http(s) URL (at most %d characters)", fsm.MaxImageSource)
	}
	project, err := writeProject(r)
	if err != nil {
		return nil, err
	}
	pool := req.Pool
	if pool == "" {
		pool = fsm.DefaultPool
	}
	if _, err := s.state.Pool(pool); err != nil {
		return nil, err
	}
	if other, err := s.state.ImageByName(project, req.Name); err == nil {
		return nil, errorf(fsm.ErrConflict, "project %s already has an image named %s (%s)", project, req.Name, other.ID)
	}
	if s.cfg.Images == nil {
		return nil, errNoImports
	}
	if err := s.cfg.Images.CheckSource(req.Source, req.SHA256); err != nil {
		return nil, err
	}
	img := fsm.Image{ID: ids.New(), Project: project, Name: req.Name, Pool: pool, Source: req.Source,
		Importer: s.cluster.Status().LocalID, CreatedAt: time.Now().UTC()}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateImage{Image: img})
	if err != nil {
		return nil, err
	}
	s.cfg.Images.Import(img, req.SHA256)
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	got, err := s.state.Image(img.ID)
	if err != nil {
		return nil, err
	}
	return accepted(toClientImage(got, s.nodeNames()), idx), nil
}

// deleteImage removes an image no VM is made from. Its files go with it
// on the hosts as they notice (not yet: see the notes).
func (s *Server) deleteImage(r *http.Request, ps httprouter.Params) (any, error) {
	img, err := s.findImage(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteImage{ID: img.ID})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(toClientImage(img, s.nodeNames()), idx), nil
}

// toClientImage converts an image, naming the hosts that hold it.
func toClientImage(img fsm.Image, names map[string]string) client.Image {
	out := client.Image{ID: img.ID, Project: img.Project, Name: img.Name, Pool: img.Pool, Source: img.Source, State: string(img.State),
		Error: img.Error, Format: img.Format, SizeBytes: img.SizeBytes, VirtualSizeBytes: img.VirtualSizeBytes, SHA256: img.SHA256,
		Hosts: []string{}, CreatedAt: img.CreatedAt, UpdatedAt: img.UpdatedAt}
	for _, h := range img.Hosts {
		if n := names[h]; n != "" {
			h = n
		}
		out.Hosts = append(out.Hosts, h)
	}
	return out
}
