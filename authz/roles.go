package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// builtin is the table of the roles every cluster has. Cluster roles are
// meant for cluster-wide bindings (a user's own role, a cluster key); project
// roles for bindings in a project, where only their project resources count.
// "admin" and "reader" are the names of issue 11's roles, kept so that the
// keys and scripts made with them go on working: admin is cluster-admin,
// reader is viewer. operator bound cluster-wide is issue 11's operator (it
// also drains nodes); bound in a project, it runs that project's VMs.
var builtin = map[string]struct {
	doc   string
	perms []Perm
}{
	"cluster-admin": {"everything: nodes, settings, users, projects, keys, and every project's VMs", []Perm{{Any, Any}}},
	"cluster-reader": {"reads everything but the gossip keys", []Perm{
		Read("audit"), Read("cluster"), Read("failover"), Read("image"), Read("member"), Read("migration"), Read("node"),
		Read("pool"), Read("project"), Read("role"), Read("settings"), Read("token"), Read("user"), Read("vm"), Read("volume"), Read("alert")}},
	"project-admin": {"a project's VMs, images, volumes, migrations and members", []Perm{
		Read("vm"), Write("vm"), Read("image"), Write("image"), Read("volume"), Write("volume"), Read("migration"), Write("migration"), Read("project"),
		Read("member"), Write("member"), Read("audit"), Read("alert"), Write("alert")}},
	"operator": {"runs VMs (create, change, start, stop, migrate), imports images and manages volumes; cluster-wide, also drains and labels nodes", []Perm{
		Read("vm"), Write("vm"), Read("image"), Write("image"), Read("volume"), Write("volume"), Read("migration"), Write("migration"), Read("project"), Read("member"),
		Read("cluster"), Read("node"), Write("node"), Read("failover"), Read("settings"), Read("pool"), Read("alert"), Write("alert")}},
	"viewer": {"reads VMs and migrations; cluster-wide, also nodes, failovers and settings", viewerPerms},
	"admin":  {"issue 11's name of cluster-admin", []Perm{{Any, Any}}},
	"reader": {"issue 11's name of viewer", viewerPerms},
}

var viewerPerms = []Perm{
	Read("vm"), Read("image"), Read("volume"), Read("migration"), Read("project"), Read("member"),
	Read("cluster"), Read("node"), Read("failover"), Read("settings"), Read("pool"), Read("alert"),
}

// DefaultRole is the role of a key created without one: the weakest, so a
// forgotten --role gives too little rather than too much (issue 11).
const DefaultRole = "viewer"

// RootUser owns the cluster's first key (--bootstrap-token) and every key
// made before users existed; it is a cluster admin and cannot log in (the
// FSM makes no user of that name).
const RootUser = fsm.RootUser

// BuiltinRoles returns the built-in role names, sorted.
func BuiltinRoles() []string {
	out := make([]string, 0, len(builtin))
	for r := range builtin {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// RoleDoc says what a built-in role grants, for `novacron role list`.
func RoleDoc(name string) (string, []Perm, bool) {
	b, ok := builtin[name]
	return b.doc, slices.Clone(b.perms), ok
}

// RoleSource finds custom roles (the FSM).
type RoleSource interface {
	Role(name string) (fsm.Role, error)
}

// RolePerms returns what role grants: a built-in role's table row, or a
// custom role's permissions; false for a role that does not exist.
func RolePerms(src RoleSource, role string) ([]Perm, bool) {
	if b, ok := builtin[role]; ok {
		return b.perms, true
	}
	if src == nil || role == "" {
		return nil, false
	}
	r, err := src.Role(role)
	if err != nil {
		return nil, false
	}
	perms := make([]Perm, 0, len(r.Permissions))
	for _, s := range r.Permissions {
		if p, err := ParsePerm(s); err == nil {
			perms = append(perms, p)
		}
	}
	return perms, true
}

// ParsePerm reads "RESOURCE:ACTION" (vm:write, vm:*, *:read).
func ParsePerm(s string) (Perm, error) {
	res, act, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return Perm{}, fmt.Errorf("permission %q is not RESOURCE:ACTION (such as vm:write)", s)
	case res != Any && !slices.Contains(Resources, res):
		return Perm{}, fmt.Errorf("permission %q: resource %q is not one of %s or *", s, res, strings.Join(Resources, ", "))
	case act != Any && !slices.Contains(Actions, act):
		return Perm{}, fmt.Errorf("permission %q: action %q is not read, write or *", s, act)
	}
	return Perm{Resource: res, Action: act}, nil
}

// CheckCustomRole checks a custom role beyond its form (fsm.ValidateRole):
// a name no built-in role has and permissions naming known resources and
// actions.
func CheckCustomRole(r fsm.Role) error {
	if _, ok := builtin[r.Name]; ok {
		return fmt.Errorf("role %q is built in; choose another name", r.Name)
	}
	for _, s := range r.Permissions {
		if _, err := ParsePerm(s); err != nil {
			return fmt.Errorf("role %q: %w", r.Name, err)
		}
	}
	return nil
}

// expand lists every concrete permission perms grant, wildcards spelled out,
// limited to project resources when inProject.
func expand(perms []Perm, inProject bool) []Perm {
	var out []Perm
	for _, res := range Resources {
		if inProject && !projectResources[res] {
			continue
		}
		for _, act := range Actions {
			if p := (Perm{res, act}); grants(perms, p) {
				out = append(out, p)
			}
		}
	}
	return out
}
