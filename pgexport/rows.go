package pgexport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage/postgres"
)

// The one place where FSM records become PostgreSQL rows. Each takes the
// Raft index the row shows (index: the FSM's applied index when the record
// was read, unless the record carries the index of its own last change)
// and fills nothing that could authenticate anyone.

// imageImport is the operations kind an image import is exported as: the
// schema has no table of images, and an import is a long operation whose
// state and outcome the history wants.
const imageImport = "image_import"

// vmRow is a VM with its spec as Config (the configuration history) and the
// whole record, spec included, as Data; both without the cloud-init user
// data.
func vmRow(vm fsm.VM, index uint64, now time.Time) postgres.VMRow {
	vm.Spec = redactSpec(vm.Spec)
	updated := firstSet(vm.UpdatedAt, vm.CreatedAt, now)
	return postgres.VMRow{
		ID: vm.ID, Project: clean(vm.Project), Name: clean(vm.Spec.Name), Node: vm.Node,
		State: string(vm.State), DesiredState: string(vm.DesiredState),
		VCPUs: vm.Spec.VCPUs, MemoryMiB: vm.Spec.MemoryMiB, DiskGiB: vm.Spec.DiskGiB, Generation: vm.Generation,
		Config: jsonOf(vm.Spec), Data: jsonOf(vm),
		CreatedAt: vm.CreatedAt, UpdatedAt: updated, Index: own(vm.Index, index),
	}
}

// redactSpec takes the cloud-init user data out of a spec: it is the usual
// place for a guest's passwords and tokens, and the history database is
// read by more people than the cluster. Its size stays, so a change of it
// still shows (a hash would not do: a hash of a short secret is a secret).
// Hostname, SSH public keys and the network configuration stay.
func redactSpec(s fsm.VMSpec) fsm.VMSpec {
	if s.CloudInit != nil && s.CloudInit.UserData != "" {
		ci := *s.CloudInit
		ci.UserData = fmt.Sprintf("(redacted: %d bytes)", len(ci.UserData))
		s.CloudInit = &ci
	}
	return s
}

func nodeRow(n fsm.Node, index uint64) postgres.NodeRow {
	return postgres.NodeRow{
		ID: n.ID, Name: clean(n.Name), Status: string(n.Status), APIAddr: clean(n.APIAddr), Version: clean(n.Version),
		VCPUs: n.Capacity.VCPUs, MemoryMiB: n.Capacity.MemoryMiB, Maintenance: n.Maintenance,
		Data: jsonOf(n), JoinedAt: n.JoinedAt, UpdatedAt: latest(n.JoinedAt, n.StatusSince, n.MaintenanceSince), Index: index,
	}
}

func migrationRow(m fsm.Migration, index uint64) postgres.MigrationRow {
	return postgres.MigrationRow{
		ID: m.ID, VMID: m.VMID, Source: m.Source, Target: m.Target, Mode: clean(m.Mode), State: string(m.State),
		Reason: clean(m.Reason), Error: clean(m.Error), Data: jsonOf(m),
		CreatedAt: m.CreatedAt, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, UpdatedAt: m.UpdatedAt, Index: own(m.Index, index),
	}
}

func failoverRow(f fsm.Failover, index uint64) postgres.FailoverRow {
	return postgres.FailoverRow{
		ID: f.ID, Node: f.Node, Cause: clean(f.Cause), VMs: len(f.VMs), Data: jsonOf(f),
		DetectedAt: f.DetectedAt, FencedAt: f.FencedAt, RestartedAt: f.RestartedAt, CompletedAt: f.CompletedAt,
		Index: own(f.Index, index),
	}
}

func projectRow(p fsm.Project, index uint64) postgres.ProjectRow {
	return postgres.ProjectRow{Name: p.Name, Description: clean(p.Description), Data: jsonOf(p),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Index: index}
}

// userRow leaves the password hash out: UserRow has no field for it.
func userRow(u fsm.User, index uint64) postgres.UserRow {
	return postgres.UserRow{Name: u.Name, Role: clean(u.Role), Disabled: u.Disabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Index: index}
}

// apiKeyRow leaves the secret's hash out: APIKeyRow has no field for it.
func apiKeyRow(t fsm.Token, index uint64) postgres.APIKeyRow {
	return postgres.APIKeyRow{ID: t.ID, Name: clean(t.Name), Role: clean(t.Role), User: clean(t.User), Project: clean(t.Project),
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Index: index}
}

func volumeRow(v fsm.Volume, index uint64) postgres.VolumeRow {
	return postgres.VolumeRow{ID: v.ID, Project: clean(v.Project), Name: clean(v.Name), Pool: clean(v.Pool), SizeGiB: v.SizeGiB,
		VM: v.VM, Node: v.Host, Data: jsonOf(v), CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Index: index}
}

// imageRow is an image's import as an operation; it ends when the import
// does (ready, failed or cancelled).
func imageRow(img fsm.Image, index uint64) postgres.OperationRow {
	var finished time.Time
	if img.State != fsm.ImageImporting {
		finished = img.UpdatedAt
	}
	return postgres.OperationRow{ID: img.ID, Kind: imageImport, ObjectID: img.ID, Project: clean(img.Project),
		State: string(img.State), Error: clean(img.Error), Data: jsonOf(img),
		CreatedAt: img.CreatedAt, UpdatedAt: img.UpdatedAt, FinishedAt: finished, Index: index}
}

// alertRow is an alert as the alerts table keeps it; its name is its rule.
func alertRow(a fsm.Alert, index uint64) postgres.AlertRow {
	return postgres.AlertRow{ID: a.ID, Name: clean(a.Rule), Severity: a.Severity, State: string(a.State), ObjectID: a.ObjectID,
		Message: clean(a.Message), Data: jsonOf(a), StartedAt: a.PendingSince, ResolvedAt: a.ResolvedAt, UpdatedAt: a.UpdatedAt, Index: index}
}

// auditRow fills what AppendAudit requires (a time and an action) even for
// an entry written without them, so one odd entry cannot stall the export.
func auditRow(e fsm.AuditEntry, now time.Time) postgres.AuditRow {
	action := clean(e.Action)
	if action == "" {
		action = "(none)"
	}
	return postgres.AuditRow{Seq: e.Seq, Time: firstSet(e.At, now), Actor: clean(e.Actor), Via: clean(e.Via),
		Project: clean(e.Project), Action: action, Object: clean(e.Object), Source: clean(e.Source), Node: clean(e.Node),
		Status: e.Status, Index: e.Index, Message: clean(e.Message)}
}

// eventRow is one event of a frame: seq is its place in the frame.
func eventRow(f eventlog.Frame, seq int, ev eventlog.Event) postgres.EventRow {
	return postgres.EventRow{Index: f.Index, Seq: seq, Time: f.Time, Type: clean(ev.Type), Action: clean(ev.Action),
		ObjectID: clean(ev.ID), Name: clean(ev.Name), Project: clean(ev.Project), Data: jsonOf(ev)}
}

// jsonOf is v as JSON for a jsonb column. PostgreSQL's jsonb refuses the
// escape \u0000 that encoding/json writes for a NUL, so NULs become U+FFFD
// (invalid UTF-8 already does). A value that cannot be encoded (none of
// the FSM's can) is stored as NULL rather than failing the export.
func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return bytes.ReplaceAll(b, []byte(`\u0000`), []byte(`\ufffd`))
}

// clean makes s storable in a text column, which refuses NUL and invalid
// UTF-8; the FSM validates most of its strings, not all (an audit entry's
// request path, a host's error message).
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// own is a record's own index when it keeps one, else the index read.
func own(recordIndex, read uint64) uint64 {
	if recordIndex != 0 {
		return recordIndex
	}
	return read
}

// firstSet is the first non-zero time of ts.
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// latest is the latest of ts.
func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
