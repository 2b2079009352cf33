package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Storage pools (issue 15): where VM disks and images live. A pool is
// declared once for the cluster and realised by every host: a dir pool is
// a local folder on each host (its own disks, copied when a VM moves), a
// shared pool a folder mounted at the same path on every host (NFS, CephFS:
// nothing moves with the VM, and its disks survive their host). The default
// pool always exists: a dir pool in each agent's data dir
// (/var/lib/novacron/pools/default with the default data dir).

// Pool types.
const (
	PoolDir    = "dir"
	PoolShared = "shared"
)

// DefaultPool is the pool every cluster has and VMs use unless they name one.
const DefaultPool = "default"

// MaxPools bounds the pools a cluster declares.
const MaxPools = 32

// StoragePool is a pool as the cluster declares it.
type StoragePool struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Path is the pool's folder on every host: required (absolute) for a
	// shared pool; for a dir pool empty means <data-dir>/pools/<name>.
	Path        string    `json:"path,omitempty"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Shared reports whether the pool's disks are reachable from every host.
func (p *StoragePool) Shared() bool { return p.Type == PoolShared }

// PoolUsage is one pool as a host last measured it.
type PoolUsage struct {
	Pool           string `json:"pool"`
	CapacityBytes  int64  `json:"capacity_bytes"`
	AvailableBytes int64  `json:"available_bytes"`
	// Error says why the host could not realise or measure the pool.
	Error string `json:"error,omitempty"`
}

// CreatePool declares a pool.
type CreatePool struct {
	Pool StoragePool `json:"pool"`
}

// DeletePool removes a pool that no image and no VM uses.
type DeletePool struct {
	Name string `json:"name"`
}

func (CreatePool) Type() CommandType          { return CmdCreatePool }
func (DeletePool) Type() CommandType          { return CmdDeletePool }
func (c CreatePool) target() (string, string) { return "pool", c.Pool.Name }
func (c DeletePool) target() (string, string) { return "pool", c.Name }

func init() {
	register(CmdCreatePool, "CreatePool", applyCreatePool)
	register(CmdDeletePool, "DeletePool", applyDeletePool)
}

// defaultPool is the pool that exists without being declared.
var defaultPool = StoragePool{Name: DefaultPool, Type: PoolDir, Description: "each host's own disks, in its data dir"}

// ValidatePool checks a pool's form.
func ValidatePool(p *StoragePool) error {
	if err := ValidateName("pool name", p.Name); err != nil {
		return err
	}
	if len(p.Description) > MaxProjectDescription {
		return errorf(ErrInvalid, "pool description is %d bytes, at most %d", len(p.Description), MaxProjectDescription)
	}
	switch p.Type {
	case PoolDir, PoolShared:
	default:
		return errorf(ErrInvalid, "pool type %q: use %s or %s", p.Type, PoolDir, PoolShared)
	}
	if p.Path == "" && p.Type == PoolShared {
		return errorf(ErrInvalid, "a shared pool needs a path, the folder mounted at the same place on every host")
	}
	if p.Path != "" {
		if len(p.Path) > MaxPathLen || !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path || p.Path == "/" || strings.ContainsAny(p.Path, ",:\x00") {
			return errorf(ErrInvalid, "pool path %q must be a clean absolute folder other than / (no commas or colons), at most %d characters", p.Path, MaxPathLen)
		}
	}
	return nil
}

func applyCreatePool(s *state, c *CreatePool, _ uint64) error {
	p := c.Pool
	if err := ValidatePool(&p); err != nil {
		return err
	}
	if _, dup := s.pools[p.Name]; dup || p.Name == DefaultPool {
		return errorf(ErrConflict, "pool %q already exists", p.Name)
	}
	if len(s.pools) >= MaxPools {
		return errorf(ErrConflict, "the cluster declares %d pools, the most it may", MaxPools)
	}
	for _, o := range s.pools {
		if p.Path != "" && o.Path == p.Path {
			return errorf(ErrConflict, "pool %q already uses path %s", o.Name, p.Path)
		}
	}
	s.pools[p.Name] = &p
	return nil
}

func applyDeletePool(s *state, c *DeletePool, _ uint64) error {
	if c.Name == DefaultPool {
		return errorf(ErrState, "the default pool cannot be deleted")
	}
	if _, ok := s.pools[c.Name]; !ok {
		return errorf(ErrNotFound, "pool %q not found", c.Name)
	}
	for _, img := range s.images {
		if img.Pool == c.Name {
			return errorf(ErrState, "pool %q still holds image %s; delete it first", c.Name, img.Name)
		}
	}
	for _, v := range s.volumes {
		if v.Pool == c.Name {
			return errorf(ErrState, "pool %q still holds volume %s; delete it first", c.Name, v.Name)
		}
	}
	for _, vm := range s.vms {
		if vm.Spec.Image != "" && vm.Spec.EffectivePool() == c.Name {
			return errorf(ErrState, "pool %q still holds the disk of vm %s; delete it first", c.Name, vm.Spec.Name)
		}
	}
	delete(s.pools, c.Name)
	return nil
}

// pool returns a pool by name, the default pool included.
func (s *state) pool(name string) (*StoragePool, bool) {
	if name == DefaultPool || name == "" {
		return &defaultPool, true
	}
	p, ok := s.pools[name]
	return p, ok
}

// Pools returns every pool, the default one first, then by name.
func (f *FSM) Pools() []StoragePool {
	f.mu.RLock()
	out := make([]StoragePool, 0, len(f.s.pools)+1)
	for _, p := range f.s.pools {
		out = append(out, *p)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b StoragePool) int { return cmp.Compare(a.Name, b.Name) })
	return append([]StoragePool{defaultPool}, out...)
}

// Pool returns one pool, the default one included.
func (f *FSM) Pool(name string) (StoragePool, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.s.pool(name)
	if !ok {
		return StoragePool{}, errorf(ErrNotFound, "pool %q not found", name)
	}
	return *p, nil
}
