package fsm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/hashicorp/raft"
)

// state is the data the FSM replicates. It is only changed by apply functions, under
// FSM.mu held for writing.
type state struct {
	nodes map[string]*Node
	vms   map[string]*VM
	// vmByName indexes VM IDs by project and name (nameKey); names are
	// unique within a project. vmNames holds the same keys in order
	// (vm_names.go); nameVM and unnameVM keep both.
	vmByName map[string]string
	vmNames  *btree.BTreeG[string]
	tokens   map[string]*Token
	// allocated sums the specs of the VMs assigned to each node, for placement.
	allocated map[string]Capacity
	// byNode indexes VM IDs by assigned node; pending holds the unplaced ones.
	// Both keep the host reconciler and the placement loop from scanning every VM.
	byNode  map[string]map[string]struct{}
	pending map[string]struct{}
	// vmStates counts the VMs in each state, for the metrics: a scrape of
	// 100,000 VMs reads it instead of every VM under the FSM's lock. Every
	// change of a VM's state goes through setVMState.
	vmStates map[VMState]int
	// tokenByHash indexes token IDs by secret hash, for authentication.
	tokenByHash map[string]string
	// cluster holds cluster-wide settings set once by InitCluster.
	cluster ClusterInfo
	// settings are the operator's cluster settings, with defaults filled in.
	settings Settings
	// migrations holds every migration record; active those not finished, and
	// incoming the capacity they reserve on their destinations.
	migrations map[string]*Migration
	active     map[string]struct{}
	incoming   map[string]Capacity
	// failovers holds every failover record.
	failovers map[string]*Failover
	// joinTokens are the outstanding join tokens (jointoken.go).
	joinTokens map[string]*JoinToken
	// keyring is the gossip keyring (keyring.go). Apply replaces it whole,
	// never changing the slice in place: snapshots share it.
	keyring Keyring
	// removals are the deleted VMs whose hosts have not yet confirmed their
	// domains gone, by VM ID and by node (removal.go).
	removals       map[string]*Removal
	removalsByNode map[string]map[string]struct{}
	// projects are the tenants, by name, "default" always among them; usage
	// is what each project's VMs take (project.go).
	projects map[string]*Project
	usage    map[string]Usage
	// users, their sessions, and the sessions by secret hash (user.go).
	users         map[string]*User
	sessions      map[string]*Session
	sessionByHash map[string]string
	// roles are the custom roles; bindings and groupBindings compile the
	// projects' members by user and by group: name, project, role
	// (member.go).
	roles         map[string]*Role
	bindings      map[string]map[string]string
	groupBindings map[string]map[string]string
	// audit is the audit log's ring and auditSeq the last number given
	// (audit.go).
	audit    auditRing
	auditSeq uint64
	// pools are the declared storage pools (the default one is implicit)
	// and images the imported disk images, by ID (pool.go, image.go).
	pools  map[string]*StoragePool
	images map[string]*Image
	// volumes are the data volumes by ID, and vmVolumes the IDs of those
	// attached to each VM (volume.go; the index is rebuilt on restore).
	volumes   map[string]*Volume
	vmVolumes map[string][]string
	// The alerting state: rules by name, alerts by ID, silences by ID,
	// notification targets by name (alert.go).
	alertRules   map[string]*AlertRule
	alerts       map[string]*Alert
	silences     map[string]*Silence
	alertTargets map[string]*AlertTarget
}

// ClusterInfo is the cluster's identity, set once. It holds no credential:
// nodes authenticate each other by their certificates (the snapshot of an
// older build may still carry a "secret" here, which restore ignores).
type ClusterInfo struct {
	ID string `json:"id"`
	// TokenBootstrapped is set once the root token was created, so a configured
	// bootstrap token never comes back after it has been revoked.
	TokenBootstrapped bool `json:"token_bootstrapped"`
	// CACert and CAKey (PEM) sign enrolled nodes' certificates
	// (SetClusterCA); empty until a node started with --tls-ca-key leads.
	CACert string `json:"ca_cert,omitempty"`
	CAKey  string `json:"ca_key,omitempty"`
}

func newState() *state {
	return &state{nodes: map[string]*Node{}, vms: map[string]*VM{}, vmByName: map[string]string{}, vmNames: newNameIndex(), allocated: map[string]Capacity{}, byNode: map[string]map[string]struct{}{}, pending: map[string]struct{}{}, vmStates: map[VMState]int{}, tokens: map[string]*Token{}, tokenByHash: map[string]string{},
		settings: DefaultSettings(), migrations: map[string]*Migration{}, active: map[string]struct{}{}, incoming: map[string]Capacity{}, failovers: map[string]*Failover{},
		joinTokens: map[string]*JoinToken{}, removals: map[string]*Removal{}, removalsByNode: map[string]map[string]struct{}{},
		projects: map[string]*Project{DefaultProject: {Name: DefaultProject, Description: "VMs created without a project"}}, usage: map[string]Usage{},
		users: map[string]*User{}, sessions: map[string]*Session{}, sessionByHash: map[string]string{},
		roles: map[string]*Role{}, bindings: map[string]map[string]string{}, groupBindings: map[string]map[string]string{},
		pools: map[string]*StoragePool{}, images: map[string]*Image{},
		volumes: map[string]*Volume{}, vmVolumes: map[string][]string{},
		alertRules: map[string]*AlertRule{}, alerts: map[string]*Alert{}, silences: map[string]*Silence{}, alertTargets: map[string]*AlertTarget{}}
}

// Event tells subscribers that an entity changed at a Raft index.
type Event struct {
	Index uint64      `json:"index"`
	Type  CommandType `json:"type"`
	// Kind is "node", "vm", "token", "migration", "settings", "cluster" or
	// "gossip-keyring"; ID names the entity.
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// VM is the VM a migration event concerns, so hosts wake for it too.
	VM string `json:"vm,omitempty"`
	// Name and Project describe the object for the event stream (a caller
	// sees only the events of objects it may read): as the change left it,
	// or as it was when the change removed it (event_describe.go).
	Name    string `json:"name,omitempty"`
	Project string `json:"project,omitempty"`
}

// FSM is the replicated state machine. It implements raft.FSM.
type FSM struct {
	mu      sync.RWMutex
	s       *state
	applied uint64
	// appliedCh is closed and replaced after every apply, waking WaitForIndex.
	appliedCh chan struct{}

	// limits caches Limits until a node changes.
	limits atomic.Pointer[NodeLimits]
	// capacityEpoch counts what may make room for a pending VM (capacity_epoch.go).
	capacityEpoch atomic.Uint64
	// migrationsEnded counts the migrations that ended (migrations_ended.go).
	migrationsEnded migrationsEnded

	subMu  sync.Mutex
	subs   map[int]chan Event
	nextID int
	// observer hears every apply and restore, losslessly (SetObserver).
	observer atomic.Pointer[Observer]
}

// Observer hears every applied index, in order, with the events it made
// (none for a refused command), and every restore from a snapshot: the
// event stream's journal is one. Unlike Subscribe it loses nothing, so it
// is called inside Apply (after the state lock is released) and must
// return at once.
type Observer interface {
	Applied(index uint64, events []Event)
	Restored(index uint64)
}

// SetObserver sets the FSM's one observer, before Raft starts applying.
func (f *FSM) SetObserver(o Observer) { f.observer.Store(&o) }

// New returns an empty FSM.
func New() *FSM {
	return &FSM{s: newState(), appliedCh: make(chan struct{}), subs: map[int]chan Event{}}
}

// Result is what Apply returns to the proposer through raft's ApplyFuture.
type Result struct {
	Err error
}

// Apply applies one committed log entry and returns a Result (a BatchResult for
// a Batch). A command error (duplicate name, unknown ID, a body that does not
// decode, ...) is a normal, deterministic outcome returned in Result, and so is
// a bad entry inside a batch, each in its own Result (see safety.go). Only a
// top-level command type that this build does not know and that is not
// ignorable panics, because only a newer node can have written it and going on
// would let state diverge.
func (f *FSM) Apply(l *raft.Log) any {
	cmd, err := decodeEntry(l.Data)
	var unknown *UnknownCommandError
	if errors.As(err, &unknown) && !unknown.Ignorable() {
		panic(fmt.Sprintf("fsm: refusing to apply log index %d: %v; this node is older than the cluster's log, upgrade it", l.Index, err))
	}
	var result any
	var events []Event
	f.mu.Lock()
	if batch, ok := cmd.(*Batch); ok && err == nil {
		result, events = f.applyBatch(batch, l.Index)
	} else {
		if err == nil {
			if events, err = f.s.applySafely(cmd, l.Index, nil); err == nil {
				f.noteApplied(cmd)
			}
		}
		result = Result{Err: err}
	}
	f.applied = l.Index
	ch := f.appliedCh
	f.appliedCh = make(chan struct{})
	for _, ev := range events {
		if ev.Kind == "node" {
			f.limits.Store(nil)
			break
		}
	}
	f.mu.Unlock()
	close(ch)
	if o := f.observer.Load(); o != nil {
		(*o).Applied(l.Index, events)
	}
	for _, ev := range events {
		f.publish(ev)
	}
	return result
}

// ApplyCommand applies cmd directly at index, outside Raft. Tests and tools use it;
// the cluster always goes through Raft.
func (f *FSM) ApplyCommand(cmd Command, index uint64) error {
	b, err := Encode(cmd)
	if err != nil {
		return err
	}
	switch res := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}).(type) {
	case Result:
		return res.Err
	case BatchResult:
		return errors.Join(func() (errs []error) {
			for _, r := range res.Results {
				errs = append(errs, r.Err)
			}
			return errs
		}()...)
	}
	return nil
}

// AppliedIndex is the index of the last log entry applied.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// WaitForIndex blocks until the FSM has applied index, or ctx ends.
func (f *FSM) WaitForIndex(ctx context.Context, index uint64) error {
	for {
		f.mu.RLock()
		applied, ch := f.applied, f.appliedCh
		f.mu.RUnlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d (applied %d): %w", index, applied, ctx.Err())
		}
	}
}

// Subscribe returns a channel of change events and a function that ends the
// subscription. Events are dropped for a subscriber that falls more than buffer
// behind, so subscribers must also resync periodically; they are a wake-up, not a log.
func (f *FSM) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	f.subMu.Lock()
	id := f.nextID
	f.nextID++
	f.subs[id] = ch
	f.subMu.Unlock()
	return ch, func() {
		f.subMu.Lock()
		delete(f.subs, id)
		f.subMu.Unlock()
	}
}

func (f *FSM) publish(ev Event) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}
