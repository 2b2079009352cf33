package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// migrateAction is the VM action served by migrateVM.
const migrateAction = "migrate"

// userReason is the reason recorded on a migration a user asked for.
const userReason = "user"

// migrationStates are the values ?state= accepts on the migration list.
var migrationStates = []fsm.MigrationState{
	fsm.MigrationPending, fsm.MigrationPreparing, fsm.MigrationRunning,
	fsm.MigrationCompleted, fsm.MigrationFailed, fsm.MigrationCancelled,
}

// migrateVM starts a migration of a VM (POST /api/v1/vms/{id}/migrate). Every
// check Apply would make runs here first, so a refused request never reaches
// Raft: the options, the VM's state, the target's status, maintenance and
// room, and the VM's placement constraints. The route needs vm write, as every
// VM action does; a migration needs migration write too, which the leader
// checks (authz's command table), so it is checked here first.
func (s *Server) migrateVM(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.MigrateRequest
	if err := s.decodeOptionalBody(r, &req); err != nil {
		return nil, err
	}
	mode := req.Mode
	if mode == "" {
		mode = fsm.MigrateLive
	}
	switch mode {
	case fsm.MigrateLive, fsm.MigrateWarm, fsm.MigrateCold:
	default:
		return nil, invalidf("mode must be live, warm or cold, got %q", mode)
	}
	opts := toFSMMigrationOptions(req)
	if err := fsm.ValidateMigrationOptions(opts); err != nil {
		return nil, err
	}
	if mode == fsm.MigrateCold && opts != (fsm.MigrationOptions{}) {
		return nil, invalidf("max_downtime_ms, bandwidth_mibps, auto_converge, post_copy, parallel and compression tune a live or warm migration; a cold one takes none")
	}
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if pr := caller(r.Context()); !pr.Allowed(vm.Project, authz.Write("migration")) {
		return nil, forbidden(pr, vm.Project, authz.Write("migration"))
	}
	target, err := s.migrationTarget(r, vm, mode, req.Target)
	if err != nil {
		return nil, err
	}
	id := ids.New()
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateMigration{
		ID: id, VMID: vm.ID, Mode: mode, Target: target, Options: opts, Reason: userReason, At: time.Now().UTC(),
	})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	m, err := s.state.Migration(id)
	if err != nil {
		return nil, err
	}
	return accepted(toClientMigration(m, s.nodeNames()), idx), nil
}

// migrationTarget resolves where vm goes: the node the user named, checked by
// the FSM and against the VM's placement constraints, or else the node the
// scheduler chooses among all but the VM's own. The leader decides both (a
// dry run), on its own state.
func (s *Server) migrationTarget(r *http.Request, vm fsm.VM, mode, ref string) (string, error) {
	target := ""
	if ref != "" {
		n, err := s.findNode(ref)
		if err != nil {
			return "", err
		}
		target = n.ID
	}
	return s.control.MigrationTarget(r.Context(), vm.ID, mode, target)
}

// listMigrations lists migrations a page at a time, newest first, optionally only those of ?vm=,
// in ?state= or from or to ?node=. A VM or node that no longer exists still
// matches the ID (or, for a VM, the name) its records hold.
func (s *Server) listMigrations(r *http.Request, _ httprouter.Params) (any, error) {
	q := r.URL.Query()
	state := fsm.MigrationState(q.Get("state"))
	if state != "" && !validMigrationState(state) {
		return nil, invalidf("query parameter state: %q is not one of pending, preparing, running, completed, failed, cancelled", state)
	}
	vmRef, vmID := q.Get("vm"), ""
	if vmRef != "" {
		if vm, err := s.findVM(r, vmRef); err == nil {
			vmID = vm.ID
		}
	}
	nodeRef, nodeID := q.Get("node"), q.Get("node")
	if nodeRef != "" {
		if n, err := s.findNode(nodeRef); err == nil {
			nodeID = n.ID
		}
	}
	pr := caller(r.Context())
	readable, err := readableIn(pr, authz.Read("migration"))
	if err != nil {
		return nil, err
	}
	all := s.state.Migrations()
	kept := all[:0]
	for _, m := range all {
		if !readable(s.migrationProjectOf(m)) {
			continue
		}
		if vmRef != "" && m.VMID != vmID && m.VMID != vmRef && m.VMName != vmRef {
			continue
		}
		if nodeRef != "" && m.Source != nodeID && m.Target != nodeID {
			continue
		}
		if state != "" && m.State != state {
			continue
		}
		kept = append(kept, m)
	}
	names := s.nodeNames()
	return paginate(s, r, kept, migrationOrder, func(m fsm.Migration) client.Migration { return toClientMigration(m, names) })
}

// migrationOrder is the migration list's order: newest first, as fsm.Migrations sorts.
var migrationOrder = byTime(func(m fsm.Migration) time.Time { return m.CreatedAt }, func(m fsm.Migration) string { return m.ID }, true)

// getMigration shows one migration by ID.
func (s *Server) getMigration(_ *http.Request, ps httprouter.Params) (any, error) {
	m, err := s.findMigration(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return toClientMigration(m, s.nodeNames()), nil
}

// cancelMigration asks to stop a migration. One that has not started copying
// ends at once (200, cancelled); a running one is aborted by its source (202,
// cancel_requested). A migration that already ended is 409.
func (s *Server) cancelMigration(r *http.Request, ps httprouter.Params) (any, error) {
	m, err := s.findMigration(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if m.State.Final() {
		return nil, errorf(fsm.ErrState, "migration %s of vm %q is already %s", m.ID, m.VMName, m.State)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.CancelMigration{ID: m.ID, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	if m, err = s.state.Migration(m.ID); err != nil {
		return nil, err
	}
	out := toClientMigration(m, s.nodeNames())
	if m.State.Final() {
		return written(out, idx), nil
	}
	return accepted(out, idx), nil
}

func validMigrationState(st fsm.MigrationState) bool {
	for _, v := range migrationStates {
		if v == st {
			return true
		}
	}
	return false
}

// findMigration looks a migration up by ID, then by a unique ID prefix.
func (s *Server) findMigration(ref string) (fsm.Migration, error) {
	return findRecord(s, "migration", ref, s.state.Migration, nil, func(m fsm.Migration) string { return m.VMName })
}
