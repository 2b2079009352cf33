package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"maps"
	"slices"
	"strings"
)

// Members of a project (issue 14): each binding gives a user, or a group of
// an identity provider, one role in the project. The bindings live in their
// project (Project.Members); the state also keeps them compiled by user and
// by group (s.bindings, s.groupBindings), rebuilt as they change, so that
// authorising a request reads one small map instead of every project.
//
// The FSM checks a binding's form and that its user and project exist; the
// role's meaning, and whether the caller may grant it, is package authz's
// (the API and the leader check both before Raft).

// MaxMembersPerProject bounds one project's bindings.
const MaxMembersPerProject = 1000

// Member is one binding: a user or a group (never both) has Role in the
// project that holds it.
type Member struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	Role  string `json:"role"`
}

// Subject is how a binding is named: the user's name, or "group:NAME".
func (m Member) Subject() string {
	if m.Group != "" {
		return GroupPrefix + m.Group
	}
	return m.User
}

// GroupPrefix marks a group in a binding's subject.
const GroupPrefix = "group:"

// SetMember binds a user or a group to a role in a project, replacing its
// role there; an empty Role removes the binding.
type SetMember struct {
	Project string `json:"project"`
	User    string `json:"user,omitempty"`
	Group   string `json:"group,omitempty"`
	Role    string `json:"role,omitempty"`
}

func (SetMember) Type() CommandType          { return CmdSetMember }
func (c SetMember) target() (string, string) { return "project", c.Project }

func (c SetMember) member() Member { return Member{User: c.User, Group: c.Group, Role: c.Role} }

func init() { register(CmdSetMember, "SetMember", applySetMember) }

func sameSubject(a, b Member) bool { return a.User == b.User && a.Group == b.Group }

// ValidateMember checks a binding's form: exactly one of user and group, by
// name, and a role name (empty in a removal).
func ValidateMember(m Member, removal bool) error {
	switch {
	case (m.User == "") == (m.Group == ""):
		return errorf(ErrInvalid, "a member is a user or a group: give exactly one of user and group")
	case m.User != "":
		if err := ValidateName("user", m.User); err != nil {
			return err
		}
	default:
		if err := ValidateName("group", m.Group); err != nil {
			return err
		}
	}
	if removal {
		return nil
	}
	return ValidateName("role", m.Role)
}

func applySetMember(s *state, c *SetMember, _ uint64) error {
	m := c.member()
	if err := ValidateMember(m, c.Role == ""); err != nil {
		return err
	}
	p, ok := s.projects[c.Project]
	if !ok {
		return errorf(ErrNotFound, "project %q not found", c.Project)
	}
	if m.User != "" && c.Role != "" {
		if _, ok := s.users[m.User]; !ok {
			return errorf(ErrNotFound, "user %q not found", m.User)
		}
	}
	if c.Role != "" {
		if err := s.roleExists(c.Role); err != nil {
			return err
		}
	}
	members := slices.Clone(p.Members)
	i := slices.IndexFunc(members, func(o Member) bool { return sameSubject(o, m) })
	switch {
	case c.Role == "" && i < 0:
		return errorf(ErrNotFound, "%s is not a member of project %q", m.Subject(), c.Project)
	case c.Role == "":
		members = slices.Delete(members, i, i+1)
	case i >= 0:
		members[i] = m
	case len(members) >= MaxMembersPerProject:
		return errorf(ErrConflict, "project %q has %d members, the most it may", c.Project, MaxMembersPerProject)
	default:
		members = append(members, m)
	}
	next := *p
	next.Members = members
	s.projects[c.Project] = &next
	s.bind(c.Project, m)
	return nil
}

// bind records m's role (none: removed) in project in the compiled lookups.
func (s *state) bind(project string, m Member) {
	idx, key := s.bindings, m.User
	if m.Group != "" {
		idx, key = s.groupBindings, m.Group
	}
	if m.Role == "" {
		delete(idx[key], project)
		if len(idx[key]) == 0 {
			delete(idx, key)
		}
		return
	}
	if idx[key] == nil {
		idx[key] = map[string]string{}
	}
	idx[key][project] = m.Role
}

// unbindProject drops every binding of a project that goes.
func (s *state) unbindProject(project string) {
	for _, m := range s.projects[project].Members {
		m.Role = ""
		s.bind(project, m)
	}
}

// unbindUser drops a user's bindings in every project, when the user goes.
func (s *state) unbindUser(user string) {
	for project := range s.bindings[user] {
		p := s.projects[project]
		next := *p
		next.Members = slices.DeleteFunc(slices.Clone(p.Members), func(m Member) bool { return m.User == user })
		s.projects[project] = &next
	}
	delete(s.bindings, user)
}

// compileBindings rebuilds the lookups from the projects (after a restore).
func (s *state) compileBindings() {
	s.bindings, s.groupBindings = map[string]map[string]string{}, map[string]map[string]string{}
	for name, p := range s.projects {
		for _, m := range p.Members {
			s.bind(name, m)
		}
	}
}

// Bindings returns the role of user, and of each of groups, in every project
// that binds them: project to role names, a user's own binding first. The
// maps are copies.
func (f *FSM) Bindings(user string, groups []string) map[string][]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := map[string][]string{}
	for p, r := range f.s.bindings[user] {
		out[p] = append(out[p], r)
	}
	for _, g := range groups {
		for p, r := range f.s.groupBindings[g] {
			if !slices.Contains(out[p], r) {
				out[p] = append(out[p], r)
			}
		}
	}
	return out
}

// roleInUse names what still refers to a role (bindings, users, keys), or ""
// when nothing does.
func (s *state) roleInUse(role string) string {
	var uses []string
	for _, name := range slices.Sorted(maps.Keys(s.projects)) {
		for _, m := range s.projects[name].Members {
			if m.Role == role {
				uses = append(uses, "member "+m.Subject()+" of project "+name)
			}
		}
	}
	for _, u := range s.users {
		if u.Role == role {
			uses = append(uses, "user "+u.Name)
		}
	}
	for _, t := range s.tokens {
		if t.Role == role {
			uses = append(uses, "key "+t.Name)
		}
	}
	if len(uses) > 5 {
		uses = append(uses[:5], "...")
	}
	return strings.Join(uses, ", ")
}
