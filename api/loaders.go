package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/fsm"
)

// The object loaders of objectRoute (scope.go): each finds the object a
// route names, as its handler will, and returns the object's own project.

var (
	vmObject        = objectLoader{"vm", vmProject}
	migrationObject = objectLoader{"migration", migrationProject}
	projectObject   = objectLoader{"project", namedProject}
	removalObject   = objectLoader{"removal of vm", removalProject}
	imageObject     = objectLoader{"image", imageProject}
	volumeObject    = objectLoader{"volume", volumeProject}
)

// volumeProject is the project of the volume /volumes/:id names (by ID or
// ID prefix in any project, by name in the request's).
func volumeProject(s *Server, r *http.Request, ps httprouter.Params) (string, error) {
	v, err := s.findVolume(r, ps.ByName("id"))
	if err != nil {
		return "", err
	}
	return v.Project, nil
}

// imageProject is the project of the image /images/:id names (by ID or ID
// prefix in any project, by name in the request's).
func imageProject(s *Server, r *http.Request, ps httprouter.Params) (string, error) {
	img, err := s.findImage(r, ps.ByName("id"))
	if err != nil {
		return "", err
	}
	return img.Project, nil
}

// vmProject is the project of the VM /vms/:id names (by ID in any project,
// by name in the request's).
func vmProject(s *Server, r *http.Request, ps httprouter.Params) (string, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return "", err
	}
	return vm.Project, nil
}

// migrationProject is the project of the VM a migration moves. A migration
// whose VM is gone belongs to no project: only a cluster role reaches it.
func migrationProject(s *Server, _ *http.Request, ps httprouter.Params) (string, error) {
	m, err := s.findMigration(ps.ByName("id"))
	if err != nil {
		return "", err
	}
	return s.migrationProjectOf(m), nil
}

// migrationProjectOf is the project of m's VM, "" when the VM is gone.
func (s *Server) migrationProjectOf(m fsm.Migration) string {
	if vm, err := s.state.VM(m.VMID); err == nil {
		return vm.Project
	}
	return ""
}

// namedProject is the project /projects/:name names.
func namedProject(s *Server, _ *http.Request, ps httprouter.Params) (string, error) {
	name := ps.ByName("name")
	if _, _, err := s.state.Project(name); err != nil {
		return "", err
	}
	return name, nil
}

// removalProject is the project of a deleted VM whose removal is under way.
func removalProject(s *Server, _ *http.Request, ps httprouter.Params) (string, error) {
	rm, ok := s.state.Removal(ps.ByName("id"))
	if !ok {
		return "", errorf(fsm.ErrNotFound, "no removal under way for vm %q: its host has removed its domain, or it had none", ps.ByName("id"))
	}
	return rm.Project, nil
}
