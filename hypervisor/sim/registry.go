package sim

import "sync"

// Registry lets the sim drivers of one process reach each other by URI
// (sim://NAME), as libvirt hosts reach each other over the network: Migrate
// and InspectRemote look the other host up here. A driver joins in New and
// leaves in Close. When two live drivers share a URI, the newer one is found
// (an agent restarted before its old driver was closed).
type Registry struct {
	mu      sync.Mutex
	drivers map[string]*Driver
}

// processRegistry is the registry of drivers whose Config names none.
var processRegistry = NewRegistry()

// NewRegistry returns an empty registry, for drivers that must reach only
// each other.
func NewRegistry() *Registry {
	return &Registry{drivers: map[string]*Driver{}}
}

func (r *Registry) add(d *Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drivers[d.URI()] = d
}

// remove takes d out, unless a newer driver holds its URI.
func (r *Registry) remove(d *Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drivers[d.URI()] == d {
		delete(r.drivers, d.URI())
	}
}

// get returns the live driver at uri, or nil.
func (r *Registry) get(uri string) *Driver {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drivers[uri]
}
