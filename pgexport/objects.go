package pgexport

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage/postgres"
)

// ref is an object an event names: its event type (vm, node, ...) and ID.
type ref struct{ kind, id string }

// collector gathers the objects a batch of events names, each once, with
// the time of the last frame that named it (its removal time, if the FSM
// no longer has it).
type collector struct {
	order []ref
	at    map[ref]time.Time
	audit []uint64
	// allVolumes: a change moved volumes without naming them (a VM
	// deleted or a volume detached), so every volume is written.
	allVolumes bool
}

func newCollector() *collector { return &collector{at: map[ref]time.Time{}} }

func (c *collector) name(kind, id string, at time.Time) {
	if id == "" {
		return
	}
	r := ref{kind, id}
	if _, ok := c.at[r]; !ok {
		c.order = append(c.order, r)
	}
	c.at[r] = at
}

// add notes what ev, of frame f, changed. A command's event names one
// object, but some commands change others as well: a migration moves its
// VM (and the VM's volumes), a failover its host's VMs (read from the
// record when the ops are made), a VM's deletion or a detach its volumes.
func (c *collector) add(f eventlog.Frame, ev eventlog.Event) {
	switch ev.Type {
	case "vm":
		c.name("vm", ev.ID, f.Time)
		if ev.Action == "delete_vm" || ev.Action == "detach_volume" {
			c.allVolumes = true
		}
	case "migration":
		c.name("migration", ev.ID, f.Time)
		c.name("vm", ev.VM, f.Time)
	case "node", "project", "user", "token", "volume", "image", "failover", "alert":
		c.name(ev.Type, ev.ID, f.Time)
	case "audit":
		if seq, err := strconv.ParseUint(ev.ID, 10, 64); err == nil {
			c.audit = append(c.audit, seq)
		}
	}
}

// ops is the writes of a batch, made from the FSM's state before the
// transaction starts.
type ops []func(context.Context, *postgres.Tx) error

func (o ops) apply(ctx context.Context, tx *postgres.Tx) error {
	for _, op := range o {
		if err := op(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// maxAuditRead bounds the audit entries one batch reads back: the
// entries of a batch are numbered together, far fewer than this.
const maxAuditRead = 100_000

// ops reads the current state of every object collected: an upsert for
// each one the FSM has, a removal for each it no longer has (at the
// applied index read first: the state read is at least that new).
func (c *collector) ops(st State, now time.Time) (ops, error) {
	w := newWriter(st, now)
	for _, r := range c.order {
		if err := w.object(r, c.at[r]); err != nil {
			return nil, err
		}
	}
	if c.allVolumes {
		for _, v := range st.Volumes() {
			w.volume(v)
		}
	}
	if len(c.audit) > 0 {
		lo, hi := slices.Min(c.audit), slices.Max(c.audit)
		want := map[uint64]bool{}
		for _, s := range c.audit {
			want[s] = true
		}
		var rows []postgres.AuditRow
		for _, e := range st.Audit(fsm.AuditQuery{Before: hi + 1, Max: int(min(hi-lo+1, maxAuditRead))}) {
			if want[e.Seq] {
				rows = append(rows, auditRow(e, now))
			}
		}
		w.auditRows(rows)
	}
	return w.ops, nil
}

// writer turns objects into ops, writing each VM and volume once.
type writer struct {
	st      State
	index   uint64
	now     time.Time
	ops     ops
	vms     map[string]bool
	volumes map[string]bool
}

// newWriter is a writer at st's applied index, read before any record.
func newWriter(st State, now time.Time) *writer {
	return &writer{st: st, index: st.AppliedIndex(), now: now, vms: map[string]bool{}, volumes: map[string]bool{}}
}

func (w *writer) add(op func(context.Context, *postgres.Tx) error) { w.ops = append(w.ops, op) }

// gone is a removal of an object the FSM no longer has.
func (w *writer) gone(kind postgres.Kind, id string, at time.Time) {
	at, index := firstSet(at, w.now), w.index
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.Delete(ctx, kind, id, at, index) })
}

// object writes r as the FSM has it now. Migrations, failovers and
// images are records the history keeps after the FSM drops them.
func (w *writer) object(r ref, at time.Time) error {
	var (
		err  error
		kind postgres.Kind // removed when the FSM no longer has it
	)
	switch r.kind {
	case "vm":
		return w.vm(r.id, at)
	case "node":
		var n fsm.Node
		if n, err = w.st.Node(r.id); err == nil {
			w.upsertNode(n)
		}
		kind = postgres.KindNode
	case "migration":
		var m fsm.Migration
		if m, err = w.st.Migration(r.id); err == nil {
			w.upsertMigration(m)
		}
	case "failover":
		var f fsm.Failover
		if f, err = w.st.Failover(r.id); err == nil {
			w.upsertFailover(f)
			for _, v := range f.VMs {
				if err := w.vm(v.VMID, at); err != nil {
					return err
				}
			}
		}
	case "project":
		var p fsm.Project
		if p, _, err = w.st.Project(r.id); err == nil {
			w.upsertProject(p)
		}
		kind = postgres.KindProject
	case "user":
		var u fsm.User
		if u, err = w.st.User(r.id); err == nil {
			w.upsertUser(u)
		}
		kind = postgres.KindUser
	case "token":
		var t fsm.Token
		if t, err = w.st.Token(r.id); err == nil {
			w.upsertAPIKey(t)
		}
		kind = postgres.KindAPIKey
	case "volume":
		var v fsm.Volume
		if v, err = w.st.Volume(r.id); err == nil {
			w.volume(v)
		}
		kind = postgres.KindVolume
	case "image":
		var img fsm.Image
		if img, err = w.st.Image(r.id); err == nil {
			w.upsertImage(img)
		}
	case "alert":
		// A resolved alert leaves the state after a day; its row stays.
		var a fsm.Alert
		if a, err = w.st.Alert(r.id); err == nil {
			w.upsertAlert(a)
		}
	}
	switch {
	case notFound(err) && kind != "":
		w.gone(kind, r.id, at)
	case err != nil && !notFound(err):
		return err
	}
	return nil
}

// vm writes a VM and the volumes attached to it (which are where it is).
func (w *writer) vm(id string, at time.Time) error {
	if id == "" || w.vms[id] {
		return nil
	}
	w.vms[id] = true
	vm, err := w.st.VM(id)
	if notFound(err) {
		w.gone(postgres.KindVM, id, at)
		return nil
	}
	if err != nil {
		return err
	}
	w.upsertVM(vm)
	for _, v := range w.st.VolumesOf(id) {
		w.volume(v)
	}
	return nil
}

func (w *writer) upsertVM(vm fsm.VM) {
	row := vmRow(vm, w.index, w.now)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertVM(ctx, row) })
}

func (w *writer) volume(v fsm.Volume) {
	if w.volumes[v.ID] {
		return
	}
	w.volumes[v.ID] = true
	row := volumeRow(v, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertVolume(ctx, row) })
}

func notFound(err error) bool { return errors.Is(err, fsm.ErrNotFound) }

func (w *writer) upsertNode(n fsm.Node) {
	row := nodeRow(n, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertNode(ctx, row) })
}

func (w *writer) upsertMigration(m fsm.Migration) {
	row := migrationRow(m, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertMigration(ctx, row) })
}

func (w *writer) upsertFailover(f fsm.Failover) {
	row := failoverRow(f, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertFailover(ctx, row) })
}

func (w *writer) upsertProject(p fsm.Project) {
	row := projectRow(p, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertProject(ctx, row) })
}

func (w *writer) upsertUser(u fsm.User) {
	row := userRow(u, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertUser(ctx, row) })
}

func (w *writer) upsertAPIKey(t fsm.Token) {
	row := apiKeyRow(t, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertAPIKey(ctx, row) })
}

func (w *writer) upsertImage(img fsm.Image) {
	row := imageRow(img, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertOperation(ctx, row) })
}

func (w *writer) upsertAlert(a fsm.Alert) {
	row := alertRow(a, w.index)
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.UpsertAlert(ctx, row) })
}

func (w *writer) auditRows(rows []postgres.AuditRow) {
	w.add(func(ctx context.Context, tx *postgres.Tx) error { return tx.AppendAudit(ctx, rows) })
}
