package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"slices"
	"time"
)

// CreateVM adds a VM. The proposer picks the ID and the time. The leader may fill
// in Node with a placement; Apply takes it only if the VM still fits there, and
// otherwise leaves the VM pending for the placement loop.
type CreateVM struct {
	ID       string    `json:"id"`
	Spec     VMSpec    `json:"spec"`
	Node     string    `json:"node,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
	At       time.Time `json:"at"`
	// RequestID, when set, makes the create idempotent: the same create
	// (same name, same RequestID) proposed again while its VM exists is
	// refused with ErrDuplicateRequest, so a retry after a lost answer never
	// makes a second VM. The API sets it from the Idempotency-Key header,
	// prefixed with the caller's token ID.
	RequestID string `json:"request_id,omitempty"`
	// Project is the project the VM belongs to; DefaultProject when empty.
	Project string `json:"project,omitempty"`
}

// MaxRequestIDLen bounds CreateVM.RequestID.
const MaxRequestIDLen = 200

// SafeToRetry reports whether cmd may be proposed again when it is unknown
// whether an earlier proposal was applied (leadership lost with it in
// flight): the FSM refuses the second apply of such a command.
func SafeToRetry(cmd Command) bool {
	switch c := cmd.(type) {
	case *CreateVM:
		return c.RequestID != ""
	case CreateVM:
		return c.RequestID != ""
	}
	return false
}

// UpdateVM replaces a VM's spec. Size changes take effect at the VM's next start.
type UpdateVM struct {
	ID   string    `json:"id"`
	Spec VMSpec    `json:"spec"`
	At   time.Time `json:"at"`
}

// DeleteVM removes a VM. Its host notices the record is gone and removes the
// domain, so a VM on a dead host is still deleted from the cluster's view.
type DeleteVM struct {
	ID string `json:"id"`
	// KeepVolumes leaves the VM's root volume on its host (the seed goes).
	KeepVolumes bool `json:"keep_volumes,omitempty"`
	// At is when it was asked for (the proposer's clock); the removal it
	// leaves shows it.
	At time.Time `json:"at,omitempty"`
}

// VM actions a user can ask for.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
	ActionPause   = "pause"
	ActionResume  = "resume"
)

// VMAction changes a VM's desired state (or asks for a restart).
type VMAction struct {
	ID     string    `json:"id"`
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// PlaceVM assigns a VM to a node. FromGeneration must match the VM's current
// generation, so two leaders racing cannot both place it. With Node empty it
// only records, on a pending VM, the decision that found no node for it.
type PlaceVM struct {
	ID             string    `json:"id"`
	Node           string    `json:"node"`
	FromGeneration uint64    `json:"from_generation"`
	Reason         string    `json:"reason"`
	Decision       *Decision `json:"decision,omitempty"`
	At             time.Time `json:"at"`
}

// ReportVM is a host reporting what its hypervisor shows for a VM. It is accepted
// only from the VM's assigned node at the VM's current generation.
type ReportVM struct {
	ID         string  `json:"id"`
	Node       string  `json:"node"`
	Generation uint64  `json:"generation"`
	State      VMState `json:"state"`
	RestartSeq uint64  `json:"restart_seq"`
	Error      string  `json:"error,omitempty"`
	// Crash, when set, records that the host found the VM dead without having
	// been asked to stop it, and how ("destroyed", "crashed").
	Crash string    `json:"crash,omitempty"`
	At    time.Time `json:"at"`
}

func (CreateVM) Type() CommandType { return CmdCreateVM }
func (UpdateVM) Type() CommandType { return CmdUpdateVM }
func (DeleteVM) Type() CommandType { return CmdDeleteVM }
func (VMAction) Type() CommandType { return CmdVMAction }
func (PlaceVM) Type() CommandType  { return CmdPlaceVM }
func (ReportVM) Type() CommandType { return CmdReportVM }

func (c CreateVM) target() (string, string) { return "vm", c.ID }
func (c UpdateVM) target() (string, string) { return "vm", c.ID }
func (c DeleteVM) target() (string, string) { return "vm", c.ID }
func (c VMAction) target() (string, string) { return "vm", c.ID }
func (c PlaceVM) target() (string, string)  { return "vm", c.ID }
func (c ReportVM) target() (string, string) { return "vm", c.ID }

func init() {
	register(CmdCreateVM, "CreateVM", applyCreateVM)
	register(CmdUpdateVM, "UpdateVM", applyUpdateVM)
	register(CmdDeleteVM, "DeleteVM", applyDeleteVM)
	register(CmdVMAction, "VMAction", applyVMAction)
	register(CmdPlaceVM, "PlaceVM", applyPlaceVM)
	register(CmdReportVM, "ReportVM", applyReportVM)
}

func applyCreateVM(s *state, c *CreateVM, index uint64) error {
	if c.ID == "" {
		return errorf(ErrInvalid, "vm id is required")
	}
	if _, dup := s.vms[c.ID]; dup {
		return errorf(ErrConflict, "vm id %q already exists", c.ID)
	}
	if err := ValidateSpec(c.Spec); err != nil {
		return err
	}
	if len(c.RequestID) > MaxRequestIDLen {
		return errorf(ErrInvalid, "request id is %d bytes, at most %d", len(c.RequestID), MaxRequestIDLen)
	}
	project := projectOf(c.Project)
	if id, taken := s.vmByName[nameKey(project, c.Spec.Name)]; taken && c.RequestID != "" && s.vms[id].RequestID == c.RequestID {
		return errorf(ErrDuplicateRequest, "vm %q was already created by this request, as vm %s", c.Spec.Name, id)
	}
	if err := s.checkVMName(c.ID, project, c.Spec.Name); err != nil {
		return err
	}
	if err := s.checkQuota(project, usageOf(&c.Spec)); err != nil {
		return err
	}
	if err := s.checkDisk(project, &c.Spec); err != nil {
		return err
	}
	spec := cloneSpec(c.Spec)
	vm := &VM{
		ID: c.ID, Project: project, Spec: spec, DesiredState: VMRunning, State: VMPending,
		CreatedAt: c.At, UpdatedAt: c.At, Index: index, RequestID: c.RequestID,
	}
	s.setLocalDisks(vm)
	s.nameVM(vm)
	s.vms[c.ID] = vm
	s.use(vm, 1)
	s.countVM(vm, 1)
	s.index(vm)
	if c.Node != "" && s.fits(c.Node, spec) == nil {
		s.assign(vm, c.Node, c.Reason, c.Decision)
	} else if c.Decision != nil && !c.Decision.OK() {
		s.shareStrings(c.Decision)
		vm.Placement, vm.Decision = c.Reason, c.Decision
	}
	return nil
}

func applyUpdateVM(s *state, c *UpdateVM, index uint64) error {
	vm, ok := s.vms[c.ID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.ID)
	}
	if err := CheckNotMigrating(vm); err != nil {
		return err
	}
	if err := ValidateSpec(c.Spec); err != nil {
		return err
	}
	if err := s.checkVMName(c.ID, vm.Project, c.Spec.Name); err != nil {
		return err
	}
	if c.Spec.Image != vm.Spec.Image || c.Spec.EffectivePool() != vm.Spec.EffectivePool() {
		return errorf(ErrInvalid, "a vm's image and pool are fixed when it is created")
	}
	if vm.Spec.Image != "" && c.Spec.DiskGiB < vm.Spec.DiskGiB {
		return errorf(ErrInvalid, "disk_gib %d is smaller than the root volume's %d GiB: volumes only grow", c.Spec.DiskGiB, vm.Spec.DiskGiB)
	}
	if vm.Spec.Image != "" && c.Spec.DiskGiB > vm.Spec.DiskGiB {
		if err := checkNoSnapshots(vm, "a revert would take its root volume back to its old size"); err != nil {
			return err
		}
	}
	if more := usageOf(&c.Spec).plus(usageOf(&vm.Spec), -1); more.VCPUs > 0 || more.MemoryMiB > 0 || more.DiskGiB > 0 {
		if err := s.checkQuota(vm.Project, more); err != nil {
			return err
		}
	}
	if vm.Node != "" {
		s.release(vm)
		err := s.hasRoom(vm.Node, c.Spec)
		s.reserve(vm)
		if err != nil {
			return err
		}
	}
	s.unnameVM(vm)
	s.release(vm)
	s.use(vm, -1)
	vm.Spec = cloneSpec(c.Spec)
	s.use(vm, 1)
	s.reserve(vm)
	s.nameVM(vm)
	vm.UpdatedAt, vm.Index = c.At, index
	return nil
}

func applyDeleteVM(s *state, c *DeleteVM, index uint64) error {
	vm, ok := s.vms[c.ID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.ID)
	}
	if err := CheckNotMigrating(vm); err != nil {
		return err
	}
	s.unnameVM(vm)
	s.release(vm)
	s.use(vm, -1)
	s.unindex(vm)
	s.countVM(vm, -1)
	s.detachAll(vm)
	delete(s.vms, c.ID)
	s.addRemoval(vm, c.At, index, c.KeepVolumes)
	return nil
}

// CheckNotMigrating refuses to change or delete a VM while it migrates: both
// hosts leave its domains alone until the migration ends. The API calls it
// before Raft, Apply again.
func CheckNotMigrating(vm *VM) error {
	if vm.Migration != "" {
		return errorf(ErrConflict, "vm %q is migrating (migration %s); try again once it ends, or cancel the migration", vm.Spec.Name, vm.Migration)
	}
	return nil
}

// CheckAction says whether action is allowed for a VM whose desired state is
// desired and observed state is observed. The API calls it to refuse early; Apply
// calls it again so the answer holds under concurrent requests.
func CheckAction(vm *VM, action string) error {
	if err := CheckNotMigrating(vm); err != nil {
		return err
	}
	d := vm.DesiredState
	switch action {
	case ActionStart:
		if d == VMRunning && vm.State != VMError {
			return errorf(ErrState, "vm %q is already running (or starting)", vm.Spec.Name)
		}
		if d == VMPaused {
			return errorf(ErrState, "vm %q is paused; resume it instead", vm.Spec.Name)
		}
	case ActionStop:
		if d == VMStopped {
			return errorf(ErrState, "vm %q is already stopped", vm.Spec.Name)
		}
	case ActionRestart, ActionPause:
		if d != VMRunning {
			return errorf(ErrState, "vm %q cannot %s: it is %s, not running", vm.Spec.Name, action, d)
		}
	case ActionResume:
		if d != VMPaused {
			return errorf(ErrState, "vm %q cannot resume: it is %s, not paused", vm.Spec.Name, d)
		}
	default:
		return errorf(ErrInvalid, "unknown action %q: use start, stop, restart, pause or resume", action)
	}
	return nil
}

func applyVMAction(s *state, c *VMAction, index uint64) error {
	vm, ok := s.vms[c.ID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.ID)
	}
	if err := CheckAction(vm, c.Action); err != nil {
		return err
	}
	switch c.Action {
	case ActionStart, ActionResume:
		vm.DesiredState = VMRunning
	case ActionStop:
		vm.DesiredState = VMStopped
	case ActionPause:
		vm.DesiredState = VMPaused
	case ActionRestart:
		vm.RestartSeq++
	}
	vm.UpdatedAt, vm.Index = c.At, index
	return nil
}

func applyPlaceVM(s *state, c *PlaceVM, index uint64) error {
	vm, ok := s.vms[c.ID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.ID)
	}
	if vm.Generation != c.FromGeneration {
		return errorf(ErrStaleGeneration, "vm %q is at generation %d, not %d", c.ID, vm.Generation, c.FromGeneration)
	}
	if vm.Migration != "" {
		return errorf(ErrConflict, "vm %q is migrating (migration %s)", vm.Spec.Name, vm.Migration)
	}
	if c.Node == "" {
		if vm.Node != "" {
			return errorf(ErrState, "vm %q is placed; a decision without a node only records why a pending vm waits", vm.Spec.Name)
		}
		s.shareStrings(c.Decision)
		vm.Placement, vm.Decision = c.Reason, c.Decision
		vm.UpdatedAt, vm.Index = c.At, index
		return nil
	}
	// Release first, so re-placing a VM on its own node does not count it twice.
	s.release(vm)
	if err := s.fits(c.Node, vm.Spec); err != nil {
		s.reserve(vm)
		return err
	}
	s.assign(vm, c.Node, c.Reason, c.Decision)
	vm.UpdatedAt, vm.Index = c.At, index
	return nil
}

func applyReportVM(s *state, c *ReportVM, index uint64) error {
	vm, ok := s.vms[c.ID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.ID)
	}
	if c.Node == "" || vm.Node != c.Node || vm.Generation != c.Generation {
		return errorf(ErrStaleGeneration, "vm %q is at generation %d on node %q; report from node %q at generation %d refused",
			c.ID, vm.Generation, vm.Node, c.Node, c.Generation)
	}
	if !ValidReportedState(c.State) {
		return errorf(ErrInvalid, "cannot report state %q", c.State)
	}
	s.setVMState(vm, c.State)
	vm.Error = c.Error
	if c.Crash != "" {
		vm.Crashes++
		vm.LastCrash, vm.LastCrashAt = c.Crash, c.At
	}
	if c.RestartSeq > vm.ReportedRestartSeq && c.RestartSeq <= vm.RestartSeq {
		vm.ReportedRestartSeq = c.RestartSeq
	}
	vm.ReportedAt, vm.Index = c.At, index
	return nil
}

// checkVMName refuses a name that another VM of the project already holds.
func (s *state) checkVMName(id, project, name string) error {
	if other, ok := s.vmByName[nameKey(project, name)]; ok && other != id {
		if project == DefaultProject {
			return errorf(ErrConflict, "vm name %q is already taken by vm %s", name, other)
		}
		return errorf(ErrConflict, "vm name %q is already taken in project %q by vm %s", name, project, other)
	}
	return nil
}

func cloneSpec(s VMSpec) VMSpec {
	s.Labels = cloneMap(s.Labels)
	s.NICs = slices.Clone(s.NICs)
	if s.Boot != nil {
		b := *s.Boot
		s.Boot = &b
	}
	if s.HA != nil {
		h := *s.HA
		s.HA = &h
	}
	if s.CloudInit != nil {
		ci := *s.CloudInit
		ci.SSHKeys = slices.Clone(ci.SSHKeys)
		s.CloudInit = &ci
	}
	if s.Placement != nil {
		p := *s.Placement
		p.NodeSelector = cloneMap(p.NodeSelector)
		p.Nodes = slices.Clone(p.Nodes)
		p.PreferredNodes = slices.Clone(p.PreferredNodes)
		p.Groups = slices.Clone(p.Groups)
		s.Placement = &p
	}
	return s
}

// assign places vm on node at the next generation.
func (s *state) assign(vm *VM, nodeID, reason string, d *Decision) {
	s.move(vm, nodeID)
	s.setVMState(vm, VMScheduled)
	vm.Error = ""
	vm.Placement = reason
	s.shareStrings(d)
	vm.Decision = d
}

// move puts vm, which the caller has released, on node ("" for none) at the
// next generation, so that its old host refuses the old orders, and keeps the
// node index and the allocations right. Callers set its state and reasons.
func (s *state) move(vm *VM, node string) {
	s.unindex(vm)
	vm.Node = node
	s.index(vm)
	vm.Generation++
	s.reserve(vm)
}

// reserve and release keep s.allocated equal to the sum of assigned VMs' specs.
func (s *state) reserve(vm *VM) {
	if vm.Node == "" {
		return
	}
	a := s.allocated[vm.Node]
	a.VCPUs += vm.Spec.VCPUs
	a.MemoryMiB += vm.Spec.MemoryMiB
	a.DiskGiB += vm.Spec.DiskGiB
	s.allocated[vm.Node] = a
}

func (s *state) release(vm *VM) {
	if vm.Node == "" {
		return
	}
	a := s.allocated[vm.Node]
	a.VCPUs -= vm.Spec.VCPUs
	a.MemoryMiB -= vm.Spec.MemoryMiB
	a.DiskGiB -= vm.Spec.DiskGiB
	if a == (Capacity{}) {
		delete(s.allocated, vm.Node)
	} else {
		s.allocated[vm.Node] = a
	}
}

// countVM adds (sign 1) or removes (sign -1) vm from the counts by state.
func (s *state) countVM(vm *VM, sign int) {
	if n := s.vmStates[vm.State] + sign; n != 0 {
		s.vmStates[vm.State] = n
	} else {
		delete(s.vmStates, vm.State)
	}
}

// setVMState changes vm's state and keeps the counts by state.
func (s *state) setVMState(vm *VM, st VMState) {
	s.countVM(vm, -1)
	vm.State = st
	s.countVM(vm, 1)
}

// index and unindex keep byNode and pending in step with vm.Node.
func (s *state) index(vm *VM) {
	if vm.Node == "" {
		s.pending[vm.ID] = struct{}{}
		return
	}
	ids, ok := s.byNode[vm.Node]
	if !ok {
		ids = map[string]struct{}{}
		s.byNode[vm.Node] = ids
	}
	ids[vm.ID] = struct{}{}
}

func (s *state) unindex(vm *VM) {
	if vm.Node == "" {
		delete(s.pending, vm.ID)
		return
	}
	delete(s.byNode[vm.Node], vm.ID)
	if len(s.byNode[vm.Node]) == 0 {
		delete(s.byNode, vm.Node)
	}
}
