package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"fmt"
	"path/filepath"
	"time"
)

// CreateMigration records a request to move a VM to Target. The proposer (the
// API or the leader's drain and rebalance loops) chose Target; Apply checks that
// the VM can go there now and reserves the room on Target until the migration
// ends, so placement cannot fill it meanwhile.
type CreateMigration struct {
	ID        string           `json:"id"`
	VMID      string           `json:"vm_id"`
	Mode      string           `json:"mode"`
	Target    string           `json:"target"`
	Options   MigrationOptions `json:"options"`
	Reason    string           `json:"reason"`
	Rebalance *RebalanceMove   `json:"rebalance,omitempty"`
	At        time.Time        `json:"at"`
}

// UpdateMigration moves a migration along: the leader admits it (preparing),
// the destination marks itself ready, the source reports running, progress and
// the outcome. Completing it moves the VM to the target at the next generation.
type UpdateMigration struct {
	ID string `json:"id"`
	// State is the new state; it may equal the current one to report progress.
	State       MigrationState `json:"state"`
	TargetReady bool           `json:"target_ready,omitempty"`
	// TargetPoolDir is, with TargetReady, the folder of the VM's pool on
	// the destination, where it prepared the VM's volumes.
	TargetPoolDir string `json:"target_pool_dir,omitempty"`
	// SourceStopped and DisksCopied are the two steps of a cold migration
	// that moves local disks (the source's, then the destination's).
	SourceStopped bool               `json:"source_stopped,omitempty"`
	DisksCopied   bool               `json:"disks_copied,omitempty"`
	Progress      *MigrationProgress `json:"progress,omitempty"`
	Result        *MigrationResult   `json:"result,omitempty"`
	Error         string             `json:"error,omitempty"`
	At            time.Time          `json:"at"`
}

// CancelMigration asks to stop a migration. One that has not started copying
// ends at once; a running one is aborted by its source, which then records it
// cancelled (or completed, if the copy won the race).
type CancelMigration struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

func (CreateMigration) Type() CommandType { return CmdCreateMigration }
func (UpdateMigration) Type() CommandType { return CmdUpdateMigration }
func (CancelMigration) Type() CommandType { return CmdCancelMigration }

func (c CreateMigration) target() (string, string) { return "migration", c.ID }
func (c UpdateMigration) target() (string, string) { return "migration", c.ID }
func (c CancelMigration) target() (string, string) { return "migration", c.ID }

func init() {
	register(CmdCreateMigration, "CreateMigration", applyCreateMigration)
	register(CmdUpdateMigration, "UpdateMigration", applyUpdateMigration)
	register(CmdCancelMigration, "CancelMigration", applyCancelMigration)
}

// checkMigration says why vm cannot move to target in mode now, or nil. The API
// calls it (through the FSM) before proposing, and Apply calls it again.
func (s *state) checkMigration(vm *VM, mode, target string) error {
	if err := s.checkMovable(vm, mode); err != nil {
		return err
	}
	if target == vm.Node {
		return errorf(ErrInvalid, "vm %q already runs on that node", vm.Spec.Name)
	}
	return s.fits(target, vm.Spec)
}

// checkMovable says why vm cannot migrate in mode now, wherever to, or nil.
func (s *state) checkMovable(vm *VM, mode string) error {
	switch mode {
	case MigrateLive, MigrateWarm, MigrateCold:
	default:
		return errorf(ErrInvalid, "mode must be live, warm or cold, got %q", mode)
	}
	if vm.Migration != "" {
		return errorf(ErrConflict, "vm %q is already migrating (migration %s)", vm.Spec.Name, vm.Migration)
	}
	if vm.Node == "" {
		return errorf(ErrState, "vm %q is not placed on any node yet", vm.Spec.Name)
	}
	src, ok := s.nodes[vm.Node]
	if !ok {
		return errorf(ErrState, "vm %q is on node %s, which is gone", vm.Spec.Name, vm.Node)
	}
	if vm.LocalDisks && src.Status != NodeAlive {
		return errorf(ErrState, "vm %q has its disks on node %s's own disk (dir pool %s), and %s is %s: they cannot be copied from it", vm.Spec.Name, src.Name, vm.Spec.EffectivePool(), src.Name, src.Status)
	}
	if err := s.checkVolumesSettled(vm); err != nil {
		return err
	}
	if err := checkNoSnapshots(vm, "they cannot move with it"); err != nil {
		return err
	}
	if mode != MigrateCold {
		if vm.DesiredState == VMStopped || (vm.State != VMRunning && vm.State != VMPaused) {
			return errorf(ErrState, "vm %q is %s; only a running or paused vm can migrate %s (use mode cold)", vm.Spec.Name, vm.State, mode)
		}
		if src.Status != NodeAlive {
			return errorf(ErrState, "vm %q is on node %q, which is %s; a %s migration needs a live source", vm.Spec.Name, src.Name, src.Status, mode)
		}
	}
	return nil
}

func applyCreateMigration(s *state, c *CreateMigration, index uint64) error {
	if c.ID == "" {
		return errorf(ErrInvalid, "migration id is required")
	}
	if _, dup := s.migrations[c.ID]; dup {
		return errorf(ErrConflict, "migration %s already exists", c.ID)
	}
	if err := ValidateMigrationOptions(c.Options); err != nil {
		return err
	}
	vm, ok := s.vms[c.VMID]
	if !ok {
		return errorf(ErrNotFound, "vm %q not found", c.VMID)
	}
	if err := s.checkMigration(vm, c.Mode, c.Target); err != nil {
		return err
	}
	m := &Migration{
		ID: c.ID, VMID: vm.ID, VMName: vm.Spec.Name, Mode: c.Mode, Source: vm.Node, Target: c.Target,
		Options: c.Options, State: MigrationPending, Reason: c.Reason, Rebalance: c.Rebalance,
		FromGeneration: vm.Generation, CreatedAt: c.At, UpdatedAt: c.At, Index: index,
	}
	s.migrations[m.ID] = m
	s.active[m.ID] = struct{}{}
	s.addIncoming(m.Target, vm.Spec, 1)
	vm.Migration, vm.Index = m.ID, index
	return nil
}

// migrationSteps lists the state changes UpdateMigration allows.
var migrationSteps = map[MigrationState][]MigrationState{
	MigrationPending:   {MigrationPreparing, MigrationFailed},
	MigrationPreparing: {MigrationPreparing, MigrationRunning, MigrationFailed},
	MigrationRunning:   {MigrationRunning, MigrationCompleted, MigrationFailed, MigrationCancelled},
}

func applyUpdateMigration(s *state, c *UpdateMigration, index uint64) error {
	m, ok := s.migrations[c.ID]
	if !ok {
		return errorf(ErrNotFound, "migration %q not found", c.ID)
	}
	allowed := false
	for _, next := range migrationSteps[m.State] {
		allowed = allowed || next == c.State
	}
	if !allowed {
		return errorf(ErrState, "migration %s is %s; it cannot become %s", m.ID, m.State, c.State)
	}
	if c.State == MigrationRunning && m.State == MigrationPreparing && !m.TargetReady {
		return errorf(ErrState, "migration %s cannot run before its destination is ready", m.ID)
	}
	if m.State != c.State && c.State == MigrationRunning {
		m.StartedAt = c.At
	}
	m.State, m.UpdatedAt, m.Index = c.State, c.At, index
	m.TargetReady = m.TargetReady || c.TargetReady
	m.SourceStopped = m.SourceStopped || c.SourceStopped
	m.DisksCopied = m.DisksCopied || c.DisksCopied
	if c.TargetReady && c.TargetPoolDir != "" {
		if len(c.TargetPoolDir) > MaxPathLen || !filepath.IsAbs(c.TargetPoolDir) || filepath.Clean(c.TargetPoolDir) != c.TargetPoolDir {
			return errorf(ErrInvalid, "target pool dir %q is no clean absolute path", c.TargetPoolDir)
		}
		m.TargetPoolDir = c.TargetPoolDir
	}
	if c.Progress != nil {
		p := *c.Progress
		m.Progress = &p
	}
	if c.Result != nil {
		r := *c.Result
		m.Result = &r
	}
	if c.Error != "" {
		m.Error = truncate(c.Error, 1024)
	}
	if c.State.Final() {
		s.finishMigration(m, c.At, index)
	}
	return nil
}

func applyCancelMigration(s *state, c *CancelMigration, index uint64) error {
	m, ok := s.migrations[c.ID]
	if !ok {
		return errorf(ErrNotFound, "migration %q not found", c.ID)
	}
	if m.State.Final() {
		return errorf(ErrState, "migration %s is already %s", m.ID, m.State)
	}
	m.CancelRequested, m.UpdatedAt, m.Index = true, c.At, index
	if m.State == MigrationPending || m.State == MigrationPreparing {
		// Nothing was copied yet: end it here.
		m.State, m.Error = MigrationCancelled, "cancelled before it started copying"
		s.finishMigration(m, c.At, index)
	}
	return nil
}

// finishMigration ends migration m: its reservation on the target goes, and if
// it completed the VM now belongs to the target at the next generation.
func (s *state) finishMigration(m *Migration, at time.Time, index uint64) {
	m.FinishedAt = at
	delete(s.active, m.ID)
	vm, ok := s.vms[m.VMID]
	if ok {
		s.addIncoming(m.Target, vm.Spec, -1)
	}
	if !ok || vm.Migration != m.ID {
		return
	}
	vm.Migration, vm.Index = "", index
	if m.State != MigrationCompleted {
		return
	}
	// A migrating VM's generation cannot change (every command that would
	// bump it refuses a migrating VM), so this is FromGeneration+1.
	s.release(vm)
	s.move(vm, m.Target)
	vm.MovedAt, vm.UpdatedAt = at, at
	vm.Placement = fmt.Sprintf("%s migration from %s: %s", m.Mode, s.nodeName(m.Source), m.Reason)
	vm.Decision = nil
	if m.Mode == MigrateCold {
		s.setVMState(vm, VMScheduled)
	}
}

// addIncoming adds (sign 1) or removes (sign -1) spec's size to what node has
// reserved for migrations coming in.
func (s *state) addIncoming(node string, spec VMSpec, sign int) {
	a := s.incoming[node]
	a.VCPUs += sign * spec.VCPUs
	a.MemoryMiB += int64(sign) * spec.MemoryMiB
	a.DiskGiB += int64(sign) * spec.DiskGiB
	if a == (Capacity{}) {
		delete(s.incoming, node)
	} else {
		s.incoming[node] = a
	}
}

// nodeName is a node's name, or its ID if it is gone.
func (s *state) nodeName(id string) string {
	if n, ok := s.nodes[id]; ok {
		return n.Name
	}
	return id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ValidateMigrationOptions checks options as a user sends them.
func ValidateMigrationOptions(o MigrationOptions) error {
	switch {
	case o.MaxDowntimeMs < 0 || o.MaxDowntimeMs > 600_000:
		return errorf(ErrInvalid, "max_downtime_ms must be between 0 and 600000, got %d", o.MaxDowntimeMs)
	case o.BandwidthMiBps > 1<<20:
		return errorf(ErrInvalid, "bandwidth_mibps must be at most %d, got %d", 1<<20, o.BandwidthMiBps)
	case o.Parallel < 0 || o.Parallel > 64:
		return errorf(ErrInvalid, "parallel must be between 0 and 64, got %d", o.Parallel)
	}
	switch o.Compression {
	case "", "xbzrle":
	case "zlib", "zstd":
		if o.Parallel < 2 {
			return errorf(ErrInvalid, "compression %q needs parallel of 2 or more", o.Compression)
		}
	default:
		return errorf(ErrInvalid, "compression must be xbzrle, zlib or zstd, got %q", o.Compression)
	}
	return nil
}
