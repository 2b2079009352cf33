package authz

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Principal is who a request acts as, with the rights it has: the user's
// cluster role and project roles and, for a key, the key's own role in its
// own scope. It is built per request from the state (Source), whose
// bindings the FSM keeps compiled by user.
type Principal struct {
	// User is the user behind the credential (RootUser for the root key).
	User string
	// Kind is "key" or "session"; ID and Name are the credential's.
	Kind, ID, Name string
	// ExpiresAt is when the credential ends (zero: a key that never does).
	ExpiresAt time.Time
	// ClusterRole is the user's cluster-wide role, if any.
	ClusterRole string
	// ProjectRoles are the user's roles in each project that binds it.
	ProjectRoles map[string][]string
	// KeyRole and KeyProject bound a key: its role, in its project ("" for
	// the whole cluster).
	KeyRole, KeyProject string

	cluster  []Perm
	projects map[string][]Perm
	key      []Perm
}

// Source is the state a principal is built from.
type Source interface {
	RoleSource
	User(name string) (fsm.User, error)
	Bindings(user string, groups []string) map[string][]string
}

// ForKey is the principal of an API key.
func ForKey(src Source, tok fsm.Token) (*Principal, error) {
	user := tok.User
	if user == "" {
		user = RootUser
	}
	p, err := forUser(src, user)
	if err != nil {
		return nil, err
	}
	p.Kind, p.ID, p.Name = "key", tok.ID, tok.Name
	p.KeyRole, p.KeyProject = tok.Role, tok.Project
	p.key, _ = RolePerms(src, tok.Role)
	if p.key == nil {
		p.key = []Perm{} // a role deleted meanwhile grants nothing
	}
	return p, nil
}

// Credentials finds keys and sessions by ID (the FSM).
type Credentials interface {
	Source
	Token(id string) (fsm.Token, error)
	Session(id string) (fsm.Session, error)
}

// ForCredential is the principal of the key or session with ID id, live at
// now: what the leader checks a forwarded write against.
func ForCredential(src Credentials, id string, now time.Time) (*Principal, error) {
	if tok, err := src.Token(id); err == nil {
		if Expired(tok, now) {
			return nil, Errorf(ErrUnauthenticated, "token %q expired at %s", tok.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return ForKey(src, tok)
	}
	ses, err := src.Session(id)
	if err != nil {
		return nil, Errorf(ErrUnauthenticated, "unknown or revoked token")
	}
	if !now.Before(ses.ExpiresAt) {
		return nil, Errorf(ErrUnauthenticated, "session of user %q expired at %s", ses.User, ses.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return ForSession(src, ses)
}

// ForSession is the principal of a login session. A password login acts as
// its user; an OIDC login has no user record, no cluster role, and the roles
// its groups are bound to in projects.
func ForSession(src Source, ses fsm.Session) (*Principal, error) {
	if ses.Provider == fsm.ProviderOIDC {
		p := &Principal{User: ses.User, Kind: "session", ID: ses.ID}
		p.bindProjects(src, src.Bindings("", ses.Groups))
		return p, nil
	}
	p, err := forUser(src, ses.User)
	if err != nil {
		return nil, err
	}
	p.Kind, p.ID = "session", ses.ID
	return p, nil
}

// bindProjects gives p the roles bindings names, project by project.
func (p *Principal) bindProjects(src RoleSource, bindings map[string][]string) {
	p.ProjectRoles = bindings
	p.projects = make(map[string][]Perm, len(bindings))
	for project, roles := range bindings {
		for _, r := range roles {
			perms, _ := RolePerms(src, r)
			p.projects[project] = append(p.projects[project], perms...)
		}
	}
}

func forUser(src Source, user string) (*Principal, error) {
	p := &Principal{User: user}
	if user == RootUser {
		p.ClusterRole, p.cluster = "cluster-admin", builtin["cluster-admin"].perms
		return p, nil
	}
	u, err := src.User(user)
	if err != nil || u.Disabled {
		return nil, Errorf(ErrUnauthenticated, "user %q is gone or disabled", user)
	}
	p.ClusterRole = u.Role
	p.cluster, _ = RolePerms(src, u.Role)
	p.bindProjects(src, src.Bindings(user, nil))
	return p, nil
}

// Allowed reports whether p may have perm in project ("" for the cluster):
// the user's rights grant it and, for a key, so does the key's role in the
// key's scope.
func (p *Principal) Allowed(project string, perm Perm) bool {
	return p.userAllowed(project, perm) && p.keyAllowed(project, perm)
}

func (p *Principal) userAllowed(project string, perm Perm) bool {
	if grants(p.cluster, perm) {
		return true
	}
	return project != "" && projectResources[perm.Resource] && grants(p.projects[project], perm)
}

func (p *Principal) keyAllowed(project string, perm Perm) bool {
	switch {
	case p.key == nil:
		return true
	case p.KeyProject == "":
		return grants(p.key, perm)
	}
	return project == p.KeyProject && projectResources[perm.Resource] && grants(p.key, perm)
}

// ManagesOwnKeys reports whether p may act (read or write) on its own
// user's keys: a session always may; a key only if its own role grants
// token:ACTION, so a weak key of a user cannot list, make or revoke the
// user's other keys.
func (p *Principal) ManagesOwnKeys(action string) bool {
	return p.key == nil || p.keyAllowed("", Perm{Resource: "token", Action: action})
}

// Projects lists the projects where p has perm (nil with a cluster-wide
// grant: every project).
func (p *Principal) Projects(perm Perm) (names []string, all bool) {
	if p.Allowed("", perm) {
		return nil, true
	}
	for _, project := range slices.Sorted(maps.Keys(p.projects)) {
		if p.Allowed(project, perm) {
			names = append(names, project)
		}
	}
	return names, false
}

// Explain says why p lacks perm in project, naming the role and the scope
// ("role viewer in project prod lacks vm:write"), for a 403 and for can-i.
func (p *Principal) Explain(project string, perm Perm) string {
	where := "the cluster"
	if project != "" && projectResources[perm.Resource] {
		where = "project " + project
	}
	if p.userAllowed(project, perm) && !p.keyAllowed(project, perm) {
		scope := ""
		if p.KeyProject != "" {
			scope = ", scoped to project " + p.KeyProject + ","
		}
		return fmt.Sprintf("role %s of key %q%s lacks %s in %s", p.KeyRole, p.Name, scope, perm, where)
	}
	var roles []string
	if p.ClusterRole != "" {
		roles = append(roles, p.ClusterRole+" in the cluster")
	}
	if where != "the cluster" {
		for _, r := range p.ProjectRoles[project] {
			roles = append(roles, r+" in "+where)
		}
	}
	if len(roles) == 0 {
		return fmt.Sprintf("user %s has no role in %s, so lacks %s", p.User, where, perm)
	}
	return fmt.Sprintf("role %s lacks %s", strings.Join(roles, " and role "), perm)
}

// Grants says which role grants perm in project, for can-i; "" when none.
func (p *Principal) Grants(project string, perm Perm) string {
	if !p.Allowed(project, perm) {
		return ""
	}
	if p.key != nil {
		return fmt.Sprintf("role %s of key %q grants %s, and so do its user's roles", p.KeyRole, p.Name, perm)
	}
	if grants(p.cluster, perm) {
		return fmt.Sprintf("role %s in the cluster grants %s", p.ClusterRole, perm)
	}
	if roles := p.ProjectRoles[project]; len(roles) > 0 {
		return fmt.Sprintf("role %s in project %s grants %s", roles[0], project, perm)
	}
	return "granted"
}

// Within checks that role, in project ("" for the cluster), grants nothing
// p lacks there: a key p makes, or a role p binds to someone, cannot be
// stronger than p itself.
func (p *Principal) Within(src RoleSource, role, project string) error {
	perms, ok := RolePerms(src, role)
	if !ok {
		return fmt.Errorf("role %q does not exist", role)
	}
	for _, perm := range expand(perms, project != "") {
		if !p.Allowed(project, perm) {
			return Errorf(ErrForbidden, "role %s grants %s, more than the caller has: %s", role, perm, p.Explain(project, perm))
		}
	}
	return nil
}
