package fsm

import (
	"fmt"
	"strings"

	"github.com/novacron/novacron/internal/version"
)

// BaseVersion is NovaCron's first version. Every build understands the commands
// and fields it introduced, so a command that needs no more is never gated.
const BaseVersion = "0.1.0"

// commandSince is the version that introduced each command type: a node older than
// that would stop on it (an unknown type). A new type gets the release it first
// ships in; TestVersionTable_Complete checks that every registered type is here.
var commandSince = map[CommandType]string{
	CmdRegisterNode:    BaseVersion,
	CmdSetNodeStatus:   BaseVersion,
	CmdRemoveNode:      BaseVersion,
	CmdCreateVM:        BaseVersion,
	CmdUpdateVM:        BaseVersion,
	CmdDeleteVM:        BaseVersion,
	CmdVMAction:        BaseVersion,
	CmdPlaceVM:         BaseVersion,
	CmdReportVM:        BaseVersion,
	CmdCreateToken:     BaseVersion,
	CmdRevokeToken:     BaseVersion,
	CmdInitCluster:     BaseVersion,
	CmdBootstrapToken:  BaseVersion,
	CmdBatch:           BaseVersion,
	CmdReportHost:      BaseVersion,
	CmdCreateMigration: BaseVersion,
	CmdUpdateMigration: BaseVersion,
	CmdCancelMigration: BaseVersion,
	CmdSetMaintenance:  BaseVersion,
	CmdSetSettings:     BaseVersion,
	CmdStartFailover:   BaseVersion,
	CmdUpdateFailover:  BaseVersion,
	// No release has shipped yet, so everything so far is in BaseVersion;
	// the first type added after the first release gets that release's number.
	CmdPurgeRecords:  BaseVersion,
	CmdGossipKeyring: BaseVersion,
	// Join tokens and the cluster CA (issue 11), before the first release.
	CmdCreateJoinToken: BaseVersion,
	CmdUseJoinToken:    BaseVersion,
	CmdRevokeJoinToken: BaseVersion,
	CmdSetClusterCA:    BaseVersion,
	// Node labels (issue 13), before the first release.
	CmdSetNodeLabels: BaseVersion,
	// Removals (issue 13), before the first release.
	CmdDomainRemoved: BaseVersion,
	// Projects (issue 14), before the first release.
	CmdCreateProject: BaseVersion,
	CmdUpdateProject: BaseVersion,
	CmdDeleteProject: BaseVersion,
	// Users and sessions (issue 14), before the first release.
	CmdCreateUser:     BaseVersion,
	CmdUpdateUser:     BaseVersion,
	CmdDeleteUser:     BaseVersion,
	CmdCreateSession:  BaseVersion,
	CmdRevokeSession:  BaseVersion,
	CmdRefreshSession: BaseVersion,
	// Members and custom roles (issue 14), before the first release.
	CmdSetMember:  BaseVersion,
	CmdCreateRole: BaseVersion,
	CmdDeleteRole: BaseVersion,
	CmdTouchToken: BaseVersion,
	// The audit log (issue 14), before the first release.
	CmdRecordAudit: BaseVersion,
	// Storage pools and images (issue 15), before the first release.
	CmdCreatePool:        BaseVersion,
	CmdDeletePool:        BaseVersion,
	CmdCreateImage:       BaseVersion,
	CmdUpdateImage:       BaseVersion,
	CmdDeleteImage:       BaseVersion,
	CmdCancelImageImport: BaseVersion,
	CmdPutAlertRule:      BaseVersion, CmdDeleteAlertRule: BaseVersion, CmdUpdateAlerts: BaseVersion, CmdAckAlert: BaseVersion,
	CmdCreateSilence: BaseVersion, CmdDeleteSilence: BaseVersion, CmdPutAlertTarget: BaseVersion, CmdDeleteAlertTarget: BaseVersion,
	// Data volumes (issue 15), before the first release.
	CmdCreateVolume: BaseVersion,
	CmdResizeVolume: BaseVersion,
	CmdDeleteVolume: BaseVersion,
	CmdAttachVolume: BaseVersion,
	CmdDetachVolume: BaseVersion,
	CmdReportVolume: BaseVersion,
	// VM snapshots (issue 15), before the first release.
	CmdCreateVMSnapshot: BaseVersion,
	CmdRevertVMSnapshot: BaseVersion,
	CmdDeleteVMSnapshot: BaseVersion,
	CmdReportVMSnapshot: BaseVersion,
}

// fieldGates lists, per command type, the fields added after the type itself. An
// older node ignores a field it does not know (decodeJSON), which is safe only if
// the leader never sends the field to it; so a field added later must be optional
// (omitempty, its zero value meaning the old behaviour) and be listed here with
// the release it first ships in, for example:
//
//	CmdCreateVM: {fieldSince("spec.gpus", "0.3.0", func(c *CreateVM) bool { return len(c.Spec.GPUs) > 0 })},
//
// No field has been added since BaseVersion yet: fields added before the first
// release (CreateVM's spec.boot.disk_format) are part of BaseVersion.
var fieldGates = map[CommandType][]fieldGate{}

// fieldGate says that a command using a field needs a later version than its type.
type fieldGate struct {
	// field names the field as the JSON does ("spec.gpus"), for the error message.
	field string
	since string
	used  func(Command) bool
}

// fieldSince builds a fieldGate for command type C; used sees the command as a
// *C whether it was proposed as a value or decoded as a pointer.
func fieldSince[C any](field, since string, used func(*C) bool) fieldGate {
	return fieldGate{field: field, since: since, used: func(cmd Command) bool {
		switch c := any(cmd).(type) {
		case *C:
			return used(c)
		case C:
			return used(&c)
		}
		return false
	}}
}

// Requirement is the lowest node version that understands a command, and why.
type Requirement struct {
	// Version is a release ("0.1.0"): the version of the command type, or of the
	// newest optional field the command uses.
	Version string
	// What names what needs it, for messages: "CreateVM", "CreateVM with
	// spec.gpus", "Batch (CreateVM with spec.gpus)".
	What string
}

// Requires returns the version a node needs to apply cmd exactly as this build
// does: the type's entry in the version table, raised by any later field cmd
// uses; for a batch, the highest of its entries. It fails only for a command
// this build cannot encode or decode itself.
func Requires(cmd Command) (Requirement, error) {
	if b, ok := asBatch(cmd); ok {
		return batchRequires(b)
	}
	t := cmd.Type()
	since, ok := commandSince[t]
	if !ok {
		return Requirement{}, fmt.Errorf("fsm: command type %s has no entry in the version table", t)
	}
	req := Requirement{Version: since, What: t.String()}
	for _, g := range fieldGates[t] {
		if g.used(cmd) && newer(g.since, req.Version) {
			req = Requirement{Version: g.since, What: t.String() + " with " + g.field}
		}
	}
	return req, nil
}

func asBatch(cmd Command) (*Batch, bool) {
	switch b := cmd.(type) {
	case *Batch:
		return b, true
	case Batch:
		return &b, true
	}
	return nil, false
}

// batchRequires decodes each entry as Apply will and takes the highest need.
// An entry whose type is as old as BaseVersion and has no gated field needs
// nothing more, and is not decoded: host reports come in batches of hundreds.
func batchRequires(b *Batch) (Requirement, error) {
	req := Requirement{Version: commandSince[CmdBatch], What: CmdBatch.String()}
	for i, e := range b.Entries {
		entry, ok := commands[e.Type]
		if !ok || e.Type == CmdBatch {
			return Requirement{}, errorf(ErrMalformed, "batch entry %d: command type %s cannot be proposed", i, e.Type)
		}
		if commandSince[e.Type] == BaseVersion && len(fieldGates[e.Type]) == 0 {
			continue
		}
		cmd := entry.new()
		if err := decodeBody(e.binary, e.Body, cmd); err != nil {
			return Requirement{}, errorf(ErrMalformed, "batch entry %d: decode %s: %v", i, e.Type, err)
		}
		r, err := Requires(cmd)
		if err != nil {
			return Requirement{}, err
		}
		if newer(r.Version, req.Version) {
			req = Requirement{Version: r.Version, What: fmt.Sprintf("%s (%s)", CmdBatch, r.What)}
		}
	}
	return req, nil
}

// newer reports whether release a is above release b; both come from the tables.
func newer(a, b string) bool {
	return version.Compare(version.MustParse(a), version.MustParse(b)) > 0
}

// NodeVersion is the version a node publishes (gossip meta, Node.Version).
type NodeVersion struct {
	ID      string
	Version string
}

// CheckVersions is the leader's gate for rolling upgrades (Nomad's
// ServersMeetMinimumVersion): before proposing cmd it returns nil if every node
// understands it, and otherwise an ErrUpgrade error naming the command, the
// version it needs and each node that runs an older one. Pass every node that
// applies the log: voters and non-voters, those down too, since a node that comes
// back replays what it missed. A node whose version does not parse counts as
// older; a dev build (version.Semver.Dev) never does. A command that needs only
// BaseVersion is never refused, so writes go on in a cluster that mixes any builds
// as long as nothing new is used.
func CheckVersions(cmd Command, nodes []NodeVersion) error {
	req, err := Requires(cmd)
	if err != nil || req.Version == BaseVersion {
		return err
	}
	need := version.MustParse(req.Version)
	var older []string
	for _, n := range nodes {
		v, err := version.Parse(n.Version)
		switch {
		case err != nil:
			older = append(older, fmt.Sprintf("node %s runs an unrecognised version %q", n.ID, n.Version))
		case !v.AtLeast(need):
			older = append(older, fmt.Sprintf("node %s runs %s", n.ID, n.Version))
		}
	}
	if len(older) == 0 {
		return nil
	}
	return errorf(ErrUpgrade, "%s needs every node at version >= %s; %s: finish the rolling upgrade first",
		req.What, req.Version, strings.Join(older, ", "))
}

// NeedsNewerThanBase reports whether cmd needs more than BaseVersion, so the
// leader reads the nodes' versions only for the rare command that might be
// refused. Checking costs a map lookup for a plain command.
func NeedsNewerThanBase(cmd Command) bool {
	if _, batch := asBatch(cmd); !batch {
		t := cmd.Type()
		if since, ok := commandSince[t]; ok && since == BaseVersion && len(fieldGates[t]) == 0 {
			return false // the common case, without building a Requirement
		}
	}
	req, err := Requires(cmd)
	return err != nil || req.Version != BaseVersion
}

// AddFieldGate gates a field of command type t at version since, until the
// returned remove is called. It is for tests of the upgrade gate across
// packages (no field is gated yet); production gates are listed in
// fieldGates. Not safe while commands are being proposed concurrently.
func AddFieldGate(t CommandType, field, since string, used func(Command) bool) (remove func()) {
	version.MustParse(since)
	fieldGates[t] = append(fieldGates[t], fieldGate{field: field, since: since, used: used})
	n := len(fieldGates[t])
	return func() { fieldGates[t] = fieldGates[t][:n-1] }
}
