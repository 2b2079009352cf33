package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Projects are the tenants (issue 14): every VM belongs to exactly one, VM
// names are unique within a project, and a project's quota bounds what its
// VMs may take. The quota is checked here, inside Apply, so that creates
// racing on several nodes can never take a project past it: Raft orders them
// and each sees the ones before it.
//
// The project "default" always exists: every state starts with it (newState),
// a VM created without a project goes there, and a VM of a state written
// before projects existed is read into it.

// DefaultProject is the project of a VM created without one.
const DefaultProject = "default"

// MaxProjects bounds the projects a cluster holds.
const MaxProjects = 1000

// MaxProjectDescription bounds a project's description.
const MaxProjectDescription = 256

// Project is one tenant.
type Project struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Quota       Quota  `json:"quota"`
	// Members bind users and groups to roles in the project (member.go).
	Members   []Member  `json:"members,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Quota bounds what a project's VMs may take, summed over all of them
// whatever their state (a stopped VM keeps its room on its node). A nil limit
// is no limit.
type Quota struct {
	VCPUs     *int64 `json:"vcpus,omitempty"`
	MemoryMiB *int64 `json:"memory_mib,omitempty"`
	DiskGiB   *int64 `json:"disk_gib,omitempty"`
	VMs       *int64 `json:"vms,omitempty"`
}

// Usage is what a project's VMs take; the state keeps it per project as VMs
// come, change and go.
type Usage struct {
	VCPUs     int64 `json:"vcpus"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskGiB   int64 `json:"disk_gib"`
	VMs       int64 `json:"vms"`
}

// usageOf is what one VM of spec takes.
func usageOf(spec *VMSpec) Usage {
	return Usage{VCPUs: int64(spec.VCPUs), MemoryMiB: spec.MemoryMiB, DiskGiB: spec.DiskGiB, VMs: 1}
}

func (u Usage) plus(v Usage, sign int64) Usage {
	return Usage{VCPUs: u.VCPUs + sign*v.VCPUs, MemoryMiB: u.MemoryMiB + sign*v.MemoryMiB,
		DiskGiB: u.DiskGiB + sign*v.DiskGiB, VMs: u.VMs + sign*v.VMs}
}

// CreateProject adds a project.
type CreateProject struct {
	Project Project `json:"project"`
}

// UpdateProject replaces a project's description and quota. A quota below
// what the project uses is accepted: it only refuses growth from then on.
type UpdateProject struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Quota       Quota     `json:"quota"`
	At          time.Time `json:"at"`
}

// DeleteProject removes a project that holds no VM. "default" stays.
type DeleteProject struct {
	Name string `json:"name"`
}

func (CreateProject) Type() CommandType { return CmdCreateProject }
func (UpdateProject) Type() CommandType { return CmdUpdateProject }
func (DeleteProject) Type() CommandType { return CmdDeleteProject }

func (c CreateProject) target() (string, string) { return "project", c.Project.Name }
func (c UpdateProject) target() (string, string) { return "project", c.Name }
func (c DeleteProject) target() (string, string) { return "project", c.Name }

func init() {
	register(CmdCreateProject, "CreateProject", applyCreateProject)
	register(CmdUpdateProject, "UpdateProject", applyUpdateProject)
	register(CmdDeleteProject, "DeleteProject", applyDeleteProject)
}

// ValidateProject checks a project's name, description and quota, as the API
// does before Raft and Apply does again.
func ValidateProject(p *Project) error {
	if err := ValidateName("project name", p.Name); err != nil {
		return err
	}
	if len(p.Description) > MaxProjectDescription {
		return errorf(ErrInvalid, "project description is %d bytes, at most %d", len(p.Description), MaxProjectDescription)
	}
	return ValidateQuota(p.Quota)
}

// ValidateQuota refuses a negative limit.
func ValidateQuota(q Quota) error {
	for _, l := range q.limits(Usage{}) {
		if l.limit != nil && *l.limit < 0 {
			return errorf(ErrInvalid, "quota %s must be 0 or more, got %d", l.name, *l.limit)
		}
	}
	return nil
}

func applyCreateProject(s *state, c *CreateProject, _ uint64) error {
	p := c.Project
	if err := ValidateProject(&p); err != nil {
		return err
	}
	if _, dup := s.projects[p.Name]; dup {
		return errorf(ErrConflict, "project %q already exists", p.Name)
	}
	if len(s.projects) >= MaxProjects {
		return errorf(ErrConflict, "the cluster holds %d projects, the most it may", MaxProjects)
	}
	p.Quota = p.Quota.clone()
	s.projects[p.Name] = &p
	return nil
}

func applyUpdateProject(s *state, c *UpdateProject, _ uint64) error {
	p, ok := s.projects[c.Name]
	if !ok {
		return errorf(ErrNotFound, "project %q not found", c.Name)
	}
	next := *p
	next.Description, next.Quota, next.UpdatedAt = c.Description, c.Quota.clone(), c.At
	if err := ValidateProject(&next); err != nil {
		return err
	}
	s.projects[c.Name] = &next
	return nil
}

func applyDeleteProject(s *state, c *DeleteProject, _ uint64) error {
	if _, ok := s.projects[c.Name]; !ok {
		return errorf(ErrNotFound, "project %q not found", c.Name)
	}
	if c.Name == DefaultProject {
		return errorf(ErrState, "the project %q cannot be deleted", DefaultProject)
	}
	if n := s.usage[c.Name].VMs; n > 0 {
		return errorf(ErrState, "project %q holds %d vms; delete them first", c.Name, n)
	}
	for _, v := range s.volumes {
		if v.Project == c.Name {
			return errorf(ErrState, "project %q holds volume %s (and maybe more); delete its volumes first", c.Name, v.Name)
		}
	}
	s.unbindProject(c.Name)
	delete(s.projects, c.Name)
	delete(s.usage, c.Name)
	return nil
}

// projectOf is the project a VM command names: DefaultProject when none.
func projectOf(name string) string {
	if name == "" {
		return DefaultProject
	}
	return name
}

// use adds (sign 1) or removes (sign -1) what vm takes to its project's usage.
func (s *state) use(vm *VM, sign int64) {
	s.addUsage(vm.Project, usageOf(&vm.Spec), sign)
}

// addUsage counts more (sign 1) or less (sign -1) of u in project's use.
func (s *state) addUsage(project string, u Usage, sign int64) {
	u = s.usage[project].plus(u, sign)
	if u == (Usage{}) {
		delete(s.usage, project)
		return
	}
	s.usage[project] = u
}

// checkQuota refuses growth by more of project past its quota: the error
// names each limit it would pass, what the request asks and what is left.
func (s *state) checkQuota(project string, more Usage) error {
	p, ok := s.projects[project]
	if !ok {
		return errorf(ErrNotFound, "project %q not found", project)
	}
	used := s.usage[project]
	var over []string
	for _, l := range p.Quota.limits(more) {
		have := l.used(used)
		if l.limit == nil || l.ask <= 0 || have+l.ask <= *l.limit {
			continue
		}
		over = append(over, fmt.Sprintf("%s: the request asks %d, %d of %d is left", l.name, l.ask, max(*l.limit-have, 0), *l.limit))
	}
	if len(over) > 0 {
		return errorf(ErrQuota, "project %q's quota would be passed: %s", project, strings.Join(over, "; "))
	}
	return nil
}

// quotaLimit is one limit of a quota, with what a request asks of it.
type quotaLimit struct {
	name  string
	limit *int64
	ask   int64
	used  func(Usage) int64
}

func (q Quota) limits(ask Usage) []quotaLimit {
	return []quotaLimit{
		{"vcpus", q.VCPUs, ask.VCPUs, func(u Usage) int64 { return u.VCPUs }},
		{"memory_mib", q.MemoryMiB, ask.MemoryMiB, func(u Usage) int64 { return u.MemoryMiB }},
		{"disk_gib", q.DiskGiB, ask.DiskGiB, func(u Usage) int64 { return u.DiskGiB }},
		{"vms", q.VMs, ask.VMs, func(u Usage) int64 { return u.VMs }},
	}
}

func (q Quota) clone() Quota {
	c := func(p *int64) *int64 {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	return Quota{VCPUs: c(q.VCPUs), MemoryMiB: c(q.MemoryMiB), DiskGiB: c(q.DiskGiB), VMs: c(q.VMs)}
}

// Projects returns every project, by name.
func (f *FSM) Projects() []Project {
	f.mu.RLock()
	out := make([]Project, 0, len(f.s.projects))
	for _, p := range f.s.projects {
		c := *p
		c.Quota = p.Quota.clone()
		out = append(out, c)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Project) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Project returns one project and what its VMs use.
func (f *FSM) Project(name string) (Project, Usage, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.s.projects[name]
	if !ok {
		return Project{}, Usage{}, errorf(ErrNotFound, "project %q not found", name)
	}
	c := *p
	c.Quota = p.Quota.clone()
	return c, f.s.usage[name], nil
}
