package api

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// listVMs lists the VMs of ?project= (the default one without, every
// project's with ?all-projects=true) a page at a time, optionally only those
// on ?node= (ID or name) or in ?state=.
func (s *Server) listVMs(r *http.Request, _ httprouter.Params) (any, error) {
	q := r.URL.Query()
	nodeID := ""
	if ref := q.Get("node"); ref != "" {
		n, err := s.findNode(ref)
		if err != nil {
			return nil, err
		}
		nodeID = n.ID
	}
	state := q.Get("state")
	if state != "" && state != stateUnknown && !validVMState(fsm.VMState(state)) {
		return nil, invalidf("query parameter state: %q is not one of pending, scheduled, running, stopped, paused, error, unknown", state)
	}
	labels, err := labelFilter(q["label"])
	if err != nil {
		return nil, err
	}
	p, err := s.parsePage(r)
	if err != nil {
		return nil, err
	}
	// The FSM reads from the cursor on (or the node's own index) and copies
	// one VM more than the page, so paginate knows whether a next page
	// exists: a page costs the page, not the cluster.
	project, err := s.listProject(r)
	if err != nil {
		return nil, err
	}
	afterKey, _, _ := strings.Cut(p.after, keySep)
	afterProject, afterName, _ := strings.Cut(afterKey, vmKeySep)
	hosts := s.nodesByID()
	pr := caller(r.Context())
	vms := s.state.VMPage(fsm.VMPageQuery{Project: project, AfterProject: afterProject, AfterName: afterName,
		Max: p.limit + 1, Node: nodeID, Keep: func(vm *fsm.VM) bool {
			if project == "" && !pr.Allowed(vm.Project, readVM) {
				return false
			}
			if state != "" {
				host, known := hosts[vm.Node]
				if shownState(vm, host, known) != state {
					return false
				}
			}
			for k, v := range labels {
				if got, ok := vm.Spec.Labels[k]; !ok || got != v {
					return false
				}
			}
			return true
		}})
	// A list item leaves out the placement decision (up to 8 candidates and
	// 8 rejections, several KB in a large cluster): placement_reason says it
	// in a line, and GET /api/v1/vms/{id} shows the decision in full.
	now := time.Now()
	imageNames := sync.OnceValue(func() map[string]string {
		out := map[string]string{}
		for _, img := range s.state.Images() {
			out[img.ID] = img.Name
		}
		return out
	})
	return paginate(s, r, vms, vmOrder, func(vm fsm.VM) client.VM {
		vm.Decision = nil
		host, known := hosts[vm.Node]
		out := toClientVM(vm, host.Name)
		markUnknown(&out, &vm, host, known, now)
		if out.Image != "" {
			out.ImageName = imageNames()[out.Image]
		}
		if out.CloudInit != nil {
			// Up to 80 KB a VM: GET /api/v1/vms/{id} shows them.
			out.CloudInit.UserData, out.CloudInit.NetworkConfig = "", ""
		}
		return out
	})
}

// readVM is the permission a VM list checks per VM across every project.
var readVM = authz.Read("vm")

// maxLabelFilters bounds the ?label= filters of one list request.
const maxLabelFilters = 16

// labelFilter reads ?label=key=value filters (repeatable; a VM must carry
// every one).
func labelFilter(raw []string) (map[string]string, error) {
	if len(raw) > maxLabelFilters {
		return nil, invalidf("query parameter label: %d filters, at most %d", len(raw), maxLabelFilters)
	}
	out := make(map[string]string, len(raw))
	for _, f := range raw {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, invalidf("query parameter label: %q is not key=value", f)
		}
		out[k] = v
	}
	return out, nil
}

// vmOrder is the VM list's order: by project, then name (unique within a
// project), as fsm.VMPage reads them.
var vmOrder = byName(func(vm fsm.VM) string { return vm.Project + vmKeySep + vm.Spec.Name }, func(vm fsm.VM) string { return vm.ID })

// vmKeySep joins a VM's project and name in a list cursor; no name holds it.
const vmKeySep = "/"

// getVM shows one VM, named by ID or name, with its volumes (which lists
// leave out: a VM list stays one read of the VMs).
func (s *Server) getVM(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	out := s.clientVM(vm)
	out.Volumes = toClientVMVolumes(s.state.VolumesOf(vm.ID))
	return out, nil
}

// createVM checks the request, proposes CreateVM and answers with the new VM as
// this node has applied it.
func (s *Server) createVM(r *http.Request, _ httprouter.Params) (any, error) {
	var req client.VMRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	spec := toFSMSpec(req)
	project, err := writeProject(r)
	if err != nil {
		return nil, err
	}
	if err := s.checkDisks(project, &spec); err != nil {
		return nil, err
	}
	if err := s.checkSpec(&spec); err != nil {
		return nil, err
	}
	requestID, err := requestIDOf(r)
	if err != nil {
		return nil, err
	}
	if other, err := s.state.VMByName(project, spec.Name); err == nil {
		if requestID != "" && other.RequestID == requestID {
			return created(s.clientVM(other), other.Index), nil // a retry of a create that was made
		}
		return nil, errorf(fsm.ErrConflict, "vm name %q is already taken by vm %s", spec.Name, other.ID)
	}
	id := ids.New()
	idx, err := s.cluster.Apply(r.Context(), &fsm.CreateVM{ID: id, Spec: spec, At: time.Now().UTC(), RequestID: requestID, Project: project})
	if errors.Is(err, fsm.ErrDuplicateRequest) {
		// An earlier try of this create was applied, its answer lost (a
		// leader change): answer with the VM it made.
		return s.replayCreate(r, idx, project, spec.Name)
	}
	if err != nil {
		return nil, err
	}
	vm, err := s.readVMAfter(r, idx, id)
	if err != nil {
		return nil, err
	}
	vm, idx = s.awaitPlacement(r, vm, idx)
	return created(s.clientVM(vm), idx), nil
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 128

// requestIDOf turns the request's Idempotency-Key into the create's request
// ID, scoped to the caller's token so that two callers' keys never meet; ""
// without the header.
func requestIDOf(r *http.Request) (string, error) {
	key := r.Header.Get(client.IdempotencyKeyHeader)
	if key == "" {
		return "", nil
	}
	if len(key) > maxIdempotencyKey {
		return "", invalidf("header %s is %d bytes, at most %d", client.IdempotencyKeyHeader, len(key), maxIdempotencyKey)
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return "", invalidf("header %s must be printable ASCII without spaces", client.IdempotencyKeyHeader)
		}
	}
	return caller(r.Context()).ID + ":" + key, nil
}

// replayCreate answers a create that was applied before under the same
// request ID with the VM it made, once this node has applied as far.
func (s *Server) replayCreate(r *http.Request, idx uint64, project, name string) (any, error) {
	if idx == 0 {
		var err error
		if idx, err = s.cluster.ConsistentIndex(r.Context()); err != nil {
			return nil, err
		}
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	vm, err := s.state.VMByName(project, name)
	if err != nil {
		return nil, err
	}
	return created(s.clientVM(vm), idx), nil
}

// updateVM replaces a VM's spec with the full spec in the request.
func (s *Server) updateVM(r *http.Request, ps httprouter.Params) (any, error) {
	var req client.VMRequest
	if err := s.decodeBody(r, &req); err != nil {
		return nil, err
	}
	spec := toFSMSpec(req)
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	// A VM's image and pool are fixed at its creation; an update that
	// leaves them (or its cloud-init data) out keeps them.
	if spec.Image == "" || spec.Image == vm.Spec.Image {
		spec.Image = vm.Spec.Image
	} else if img, err := s.findImage(r, spec.Image); err == nil && img.ID == vm.Spec.Image {
		spec.Image = img.ID
	}
	if spec.Pool == "" {
		spec.Pool = vm.Spec.Pool
	}
	if spec.CloudInit == nil {
		spec.CloudInit = vm.Spec.CloudInit
	} else if err := checkCloudInit(spec.CloudInit); err != nil {
		return nil, err
	}
	if err := s.checkSpec(&spec); err != nil {
		return nil, err
	}
	if err := fsm.CheckNotMigrating(&vm); err != nil {
		return nil, err
	}
	if other, err := s.state.VMByName(vm.Project, spec.Name); err == nil && other.ID != vm.ID {
		return nil, errorf(fsm.ErrConflict, "vm name %q is already taken by vm %s", spec.Name, other.ID)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.UpdateVM{ID: vm.ID, Spec: spec, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	vm, err = s.readVMAfter(r, idx, vm.ID)
	if err != nil {
		return nil, err
	}
	return written(s.clientVM(vm), idx), nil
}

// deleteVM removes a VM and answers with the VM as it was.
func (s *Server) deleteVM(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if err := fsm.CheckNotMigrating(&vm); err != nil {
		return nil, err
	}
	keep := false
	switch q := r.URL.Query().Get("keep_volumes"); q {
	case "", "false":
	case "true":
		keep = true
	default:
		return nil, invalidf("query parameter keep_volumes: %q is not true or false", q)
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.DeleteVM{ID: vm.ID, At: time.Now().UTC(), KeepVolumes: keep})
	if err != nil {
		return nil, err
	}
	if err := s.applied(r.Context(), idx); err != nil {
		return nil, err
	}
	return written(s.clientVM(vm), idx), nil
}

// vmAction asks for start, stop, restart, pause or resume. The state check runs
// here first, so a refused action never reaches Raft (Apply checks again).
// It also serves POST /vms/:id/migrate, /vms/:id/volumes (an attach) and
// /vms/:id/snapshots (a new snapshot), which httprouter cannot route beside
// /vms/:id/:action.
func (s *Server) vmAction(r *http.Request, ps httprouter.Params) (any, error) {
	action := ps.ByName("action")
	switch action {
	case migrateAction:
		// httprouter cannot hold /vms/:id/migrate beside /vms/:id/:action.
		nameRoute(r, "/api/v1/vms/:id/migrate")
		return s.migrateVM(r, ps)
	case volumesAction:
		nameRoute(r, "/api/v1/vms/:id/volumes")
		return s.attachVolume(r, ps)
	case snapshotsAction:
		nameRoute(r, "/api/v1/vms/:id/snapshots")
		return s.createVMSnapshot(r, ps)
	}
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	if err := fsm.CheckAction(&vm, action); err != nil {
		return nil, err
	}
	idx, err := s.cluster.Apply(r.Context(), &fsm.VMAction{ID: vm.ID, Action: action, At: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	vm, err = s.readVMAfter(r, idx, vm.ID)
	if err != nil {
		return nil, err
	}
	return written(s.clientVM(vm), idx), nil
}

// readVMAfter waits until this node applied index, then reads the VM.
func (s *Server) readVMAfter(r *http.Request, index uint64, id string) (fsm.VM, error) {
	if err := s.applied(r.Context(), index); err != nil {
		return fsm.VM{}, err
	}
	return s.state.VM(id)
}

// findVM looks a VM up by ID, then by name in the request's project
// (?project=, the default one without), then by a unique ID prefix. An ID
// finds a VM of any project.
func (s *Server) findVM(r *http.Request, ref string) (fsm.VM, error) {
	project := r.URL.Query().Get(projectParam)
	byName := func(name string) (fsm.VM, error) { return s.state.VMByName(project, name) }
	return findRecord(s, "vm", ref, s.state.VM, byName, func(vm fsm.VM) string { return vm.Spec.Name })
}

// clientVM converts one VM, with its node's name, and unknown while that
// node is failed.
func (s *Server) clientVM(vm fsm.VM) client.VM {
	var host fsm.Node
	known := false
	if vm.Node != "" {
		if n, err := s.state.Node(vm.Node); err == nil {
			host, known = n, true
		}
	}
	out := toClientVM(vm, host.Name)
	markUnknown(&out, &vm, host, known, time.Now())
	if out.Image != "" {
		if img, err := s.state.Image(out.Image); err == nil {
			out.ImageName = img.Name
		}
	}
	return out
}

// nodesByID maps node IDs to nodes, for lists.
func (s *Server) nodesByID() map[string]fsm.Node {
	nodes := s.state.Nodes()
	out := make(map[string]fsm.Node, len(nodes))
	for _, n := range nodes {
		out[n.ID] = n
	}
	return out
}

// nodeNames maps node IDs to names, for lists.
func (s *Server) nodeNames() map[string]string {
	out := map[string]string{}
	for _, n := range s.state.Nodes() {
		out[n.ID] = n.Name
	}
	return out
}

func validVMState(st fsm.VMState) bool {
	for _, v := range vmStates {
		if v == st {
			return true
		}
	}
	return false
}
