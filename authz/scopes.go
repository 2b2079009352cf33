package authz

import (
	"fmt"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// The scopes and checks of the command table (commands.go). Commands reach
// the leader as pointers (the API's and fsm.Decode's); as accepts values too.

func as[T any](cmd fsm.Command) (T, bool) {
	if c, ok := any(cmd).(*T); ok {
		return *c, true
	}
	c, ok := any(cmd).(T)
	return c, ok
}

// createdIn is the project a new VM goes to.
func createdIn(cmd fsm.Command, _ Objects) (string, bool) {
	c, _ := as[fsm.CreateVM](cmd)
	if c.Project == "" {
		return fsm.DefaultProject, true
	}
	return c.Project, true
}

// ofVM is the project of the VM a command names.
func ofVM(cmd fsm.Command, o Objects) (string, bool) {
	var id string
	if c, ok := as[fsm.UpdateVM](cmd); ok {
		id = c.ID
	} else if c, ok := as[fsm.DeleteVM](cmd); ok {
		id = c.ID
	} else if c, ok := as[fsm.VMAction](cmd); ok {
		id = c.ID
	} else if c, ok := as[fsm.CreateMigration](cmd); ok {
		id = c.VMID
	} else if c, ok := as[fsm.CreateVMSnapshot](cmd); ok {
		id = c.VM
	} else if c, ok := as[fsm.RevertVMSnapshot](cmd); ok {
		id = c.VM
	} else if c, ok := as[fsm.DeleteVMSnapshot](cmd); ok {
		id = c.VM
	}
	vm, err := o.VM(id)
	if err != nil {
		return "", false
	}
	return vm.Project, true
}

// ofMigration is the project of a migration's VM.
func ofMigration(cmd fsm.Command, o Objects) (string, bool) {
	c, _ := as[fsm.CancelMigration](cmd)
	m, err := o.Migration(c.ID)
	if err != nil {
		return "", false
	}
	vm, err := o.VM(m.VMID)
	if err != nil {
		return "", false
	}
	return vm.Project, true
}

// ofMember is the project a binding is made in. A project that does not
// exist is still checked: only a cluster role passes, and Apply answers
// not found.
func ofMember(cmd fsm.Command, _ Objects) (string, bool) {
	c, _ := as[fsm.SetMember](cmd)
	return c.Project, true
}

// checkMember refuses a binding to a role stronger, in that project, than
// the caller's own rights there: a project admin cannot make someone a
// cluster admin, nor an operator anyone at all (it lacks member write).
func checkMember(p *Principal, cmd fsm.Command, o Objects) error {
	c, _ := as[fsm.SetMember](cmd)
	if c.Role == "" {
		return nil
	}
	return p.Within(o, c.Role, c.Project)
}

// checkRole refuses a custom role with a built-in name or an unknown
// permission.
func checkRole(_ *Principal, cmd fsm.Command, _ Objects) error {
	c, _ := as[fsm.CreateRole](cmd)
	if err := CheckCustomRole(c.Role); err != nil {
		return Errorf(ErrForbidden, "%v", err)
	}
	return nil
}

// checkNewKey lets a user make keys for itself only, each no stronger than
// the user (for a key made with a key, than that key).
func checkNewKey(p *Principal, cmd fsm.Command, o Objects) error {
	c, _ := as[fsm.CreateToken](cmd)
	owner := c.Token.User
	if owner == "" {
		owner = RootUser
	}
	if owner != p.User {
		return Errorf(ErrForbidden, "a key belongs to the user who makes it: %s may not make one for %s", p.User, owner)
	}
	if !p.ManagesOwnKeys("write") {
		return Errorf(ErrForbidden, "%s", p.Explain("", tokenWrite))
	}
	if strings.HasPrefix(owner, fsm.ProviderOIDC+":") {
		return Errorf(ErrForbidden, "an OIDC login cannot make keys")
	}
	if err := p.Within(o, c.Token.Role, c.Token.Project); err != nil {
		return Errorf(ErrForbidden, "a key may not be stronger than its user: %v", err)
	}
	return nil
}

// checkRevokeKey lets a user revoke its own keys, and one with token write
// in the cluster anyone's.
func checkRevokeKey(p *Principal, cmd fsm.Command, o Objects) error {
	c, _ := as[fsm.RevokeToken](cmd)
	tok, err := o.Token(c.ID)
	if err != nil {
		return nil // Apply answers not found
	}
	owner := tok.User
	if owner == "" {
		owner = RootUser
	}
	if (owner == p.User && p.ManagesOwnKeys("write")) || p.Allowed("", tokenWrite) {
		return nil
	}
	return Errorf(ErrForbidden, "key %q belongs to %s: %s", tok.Name, owner, p.Explain("", tokenWrite))
}

// Via is how p authenticated, for the audit log: "key NAME" or "session".
func (p *Principal) Via() string {
	if p.Kind == "key" {
		return "key " + p.Name
	}
	return p.Kind
}

// Describe names a principal for messages and the audit log: "user alice
// (key ci)".
func (p *Principal) Describe() string {
	if p.Kind == "key" {
		return fmt.Sprintf("user %s (key %s)", p.User, p.Name)
	}
	return fmt.Sprintf("user %s (session)", p.User)
}

// ofImage is the project of the image a command names.
func ofImage(cmd fsm.Command, o Objects) (string, bool) {
	id := ""
	if c, ok := as[fsm.DeleteImage](cmd); ok {
		id = c.ID
	} else if c, ok := as[fsm.CancelImageImport](cmd); ok {
		id = c.ID
	}
	img, err := o.Image(id)
	if err != nil {
		return "", false
	}
	return img.Project, true
}

// ofAlert is the project of the alert a command names.
func ofAlert(cmd fsm.Command, o Objects) (string, bool) {
	c, _ := as[fsm.AckAlert](cmd)
	a, err := o.Alert(c.ID)
	if err != nil {
		return "", false
	}
	return a.Project, true
}

// imageCreatedIn is the project an import records its image in.
func imageCreatedIn(cmd fsm.Command, _ Objects) (string, bool) {
	c, _ := as[fsm.CreateImage](cmd)
	if c.Image.Project == "" {
		return fsm.DefaultProject, true
	}
	return c.Image.Project, true
}

// ofVolume is the project of the volume a command names.
func ofVolume(cmd fsm.Command, o Objects) (string, bool) {
	var id string
	switch c := cmd.(type) {
	case *fsm.ResizeVolume:
		id = c.ID
	case *fsm.DeleteVolume:
		id = c.ID
	case *fsm.AttachVolume:
		id = c.ID
	case *fsm.DetachVolume:
		id = c.ID
	}
	v, err := o.Volume(id)
	if err != nil {
		return "", false
	}
	return v.Project, true
}

// volumeCreatedIn is the project a new volume is recorded in.
func volumeCreatedIn(cmd fsm.Command, _ Objects) (string, bool) {
	c, _ := as[fsm.CreateVolume](cmd)
	if c.Volume.Project == "" {
		return fsm.DefaultProject, true
	}
	return c.Volume.Project, true
}
