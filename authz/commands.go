package authz

import (
	"fmt"

	"github.com/novacron/novacron/fsm"
)

// Rule says who may cause a command type that reaches the leader from other
// nodes (fsm.Forwardable): a user whose rights grant User in the command's
// project, or a node on its own, or both.
type Rule struct {
	// User is the permission a user needs for the command; the zero Perm
	// when no user may cause it.
	User Perm
	// Node: nodes write the command on their own, with no user behind it (a
	// host's reports, the leader's loops, the member reconcile).
	Node bool
	// Scope finds the project the command acts in from the command and the
	// state; nil acts on the cluster. found is false when the object is
	// gone: the permission is then not checked, and Apply answers not found.
	Scope func(cmd fsm.Command, o Objects) (project string, found bool)
	// Check refuses what the permission alone would let through: a key or a
	// binding stronger than its maker, a key made for someone else.
	Check func(p *Principal, cmd fsm.Command, o Objects) error
}

// Objects is the state the leader reads to find a command's project.
type Objects interface {
	Credentials
	VM(id string) (fsm.VM, error)
	Migration(id string) (fsm.Migration, error)
	Image(id string) (fsm.Image, error)
	Volume(id string) (fsm.Volume, error)
	Alert(id string) (fsm.Alert, error)
}

var (
	vmWrite        = Write("vm")
	nodeWrite      = Write("node")
	migrationWrite = Write("migration")
	settingsWrite  = Write("settings")
	tokenWrite     = Write("token")
	operatorWrite  = Write("operator")
	projectWrite   = Write("project")
	userWrite      = Write("user")
	memberWrite    = Write("member")
	roleWrite      = Write("role")
	imageWrite     = Write("image")
	poolWrite      = Write("pool")
	volumeWrite    = Write("volume")
	alertWrite     = Write("alert")
	// self is what any user may cause for itself (its own keys); the rule's
	// Check decides.
	self = Perm{Resource: "self", Action: "write"}
)

// commands is the one table of who may cause each forwardable command type.
// Every type in fsm's forwardable table has a row
// (TestCommands_EveryForwardableTypeClassified). The API route that applies a
// type needs its permission (POST /vms/{id}/migrate needs vm write and, for
// CreateMigration, migration write), so what the API lets through, the leader
// takes.
var commands = map[fsm.CommandType]Rule{
	fsm.CmdCreateVM:        {User: vmWrite, Scope: createdIn},
	fsm.CmdUpdateVM:        {User: vmWrite, Scope: ofVM},
	fsm.CmdDeleteVM:        {User: vmWrite, Scope: ofVM},
	fsm.CmdVMAction:        {User: vmWrite, Node: true, Scope: ofVM},        // a host stops a VM it could not start
	fsm.CmdCreateMigration: {User: migrationWrite, Node: true, Scope: ofVM}, // the leader's drains and rebalancing
	fsm.CmdCancelMigration: {User: migrationWrite, Scope: ofMigration},
	fsm.CmdSetMaintenance:  {User: nodeWrite},
	fsm.CmdSetNodeLabels:   {User: nodeWrite},
	fsm.CmdDomainRemoved:   {Node: true},
	fsm.CmdCreateProject:   {User: projectWrite},
	fsm.CmdUpdateProject:   {User: projectWrite},
	fsm.CmdDeleteProject:   {User: projectWrite},
	fsm.CmdSetMember:       {User: memberWrite, Scope: ofMember, Check: checkMember},
	fsm.CmdCreateRole:      {User: roleWrite, Check: checkRole},
	fsm.CmdDeleteRole:      {User: roleWrite},
	fsm.CmdCreateUser:      {User: userWrite},
	fsm.CmdUpdateUser:      {User: userWrite},
	fsm.CmdDeleteUser:      {User: userWrite},
	// A login has no caller yet: the node that checked the password writes
	// the session. A logout, a revoke and a refresh are written by the node
	// too, once the API has checked the caller (a viewer may end its own
	// session, which its role alone would not allow).
	fsm.CmdCreateSession:  {Node: true},
	fsm.CmdRevokeSession:  {Node: true},
	fsm.CmdRefreshSession: {Node: true},
	fsm.CmdSetSettings:    {User: settingsWrite},
	fsm.CmdCreatePool:     {User: poolWrite},
	fsm.CmdDeletePool:     {User: poolWrite},
	// An import is recorded for its caller, in the image's project; its end
	// and the copies hosts make are the nodes' own.
	fsm.CmdCreateImage:       {User: imageWrite, Scope: imageCreatedIn},
	fsm.CmdUpdateImage:       {Node: true},
	fsm.CmdDeleteImage:       {User: imageWrite, Scope: ofImage},
	fsm.CmdCancelImageImport: {User: imageWrite, Scope: ofImage},
	// Alerts: rules, silences and targets are the cluster's; an alert is
	// its object's project's to acknowledge.
	fsm.CmdPutAlertRule:    {User: alertWrite},
	fsm.CmdDeleteAlertRule: {User: alertWrite},
	fsm.CmdUpdateAlerts:    {Node: true},
	fsm.CmdAckAlert:        {User: alertWrite, Scope: ofAlert},
	fsm.CmdCreateSilence:   {User: alertWrite},
	fsm.CmdDeleteSilence:   {User: alertWrite},
	// A target's URL is fetched by the leader and holds a secret: a
	// cluster admin's (settings write), as the other fetch settings are.
	fsm.CmdPutAlertTarget:    {User: settingsWrite},
	fsm.CmdDeleteAlertTarget: {User: settingsWrite},
	// Volumes are their project's; an attach also needs vm write on the
	// VM (the API checks it), which the FSM keeps in the same project.
	fsm.CmdCreateVolume: {User: volumeWrite, Scope: volumeCreatedIn},
	fsm.CmdResizeVolume: {User: volumeWrite, Scope: ofVolume},
	fsm.CmdDeleteVolume: {User: volumeWrite, Scope: ofVolume},
	fsm.CmdAttachVolume: {User: volumeWrite, Scope: ofVolume},
	fsm.CmdDetachVolume: {User: volumeWrite, Scope: ofVolume},
	fsm.CmdReportVolume: {Node: true},
	// A VM's snapshots are part of the VM: vm write in its project.
	fsm.CmdCreateVMSnapshot: {User: vmWrite, Scope: ofVM},
	fsm.CmdRevertVMSnapshot: {User: vmWrite, Scope: ofVM},
	fsm.CmdDeleteVMSnapshot: {User: vmWrite, Scope: ofVM},
	fsm.CmdReportVMSnapshot: {Node: true},
	// Every user may make keys for itself, no stronger than itself, and
	// revoke its own; token write is needed for anyone else's.
	fsm.CmdCreateToken: {User: self, Check: checkNewKey},
	fsm.CmdRevokeToken: {User: self, Check: checkRevokeKey},
	fsm.CmdTouchToken:  {Node: true},
	// The node that served the requests records them, refused ones too.
	fsm.CmdRecordAudit: {Node: true},
	// install, use and remove; init is the leader's own and never forwarded.
	fsm.CmdGossipKeyring:   {User: operatorWrite},
	fsm.CmdCreateJoinToken: {User: tokenWrite},
	fsm.CmdRevokeJoinToken: {User: tokenWrite},
	// A node's API spends a join token for a host that enrolls: there is no
	// user behind it, and Apply checks the token's hash itself.
	fsm.CmdUseJoinToken: {Node: true},

	fsm.CmdRegisterNode:    {Node: true},
	fsm.CmdSetNodeStatus:   {Node: true},
	fsm.CmdPlaceVM:         {Node: true},
	fsm.CmdReportVM:        {Node: true},
	fsm.CmdReportHost:      {Node: true},
	fsm.CmdUpdateMigration: {Node: true},
	fsm.CmdStartFailover:   {Node: true},
	fsm.CmdUpdateFailover:  {Node: true},
	fsm.CmdRemoveNode:      {Node: true},
	fsm.CmdPurgeRecords:    {Node: true},
	// Any node configured with --bootstrap-token may propose it; the FSM
	// takes only the first, once per cluster lifetime.
	fsm.CmdBootstrapToken: {Node: true},
	// A batch is checked entry by entry, never as a whole; nodes send them
	// (a host's reports, ApplyInBatches).
	fsm.CmdBatch: {Node: true},
}

// CommandRule returns who may cause a command type; false for a type that is
// never taken from another node (InitCluster).
func CommandRule(t fsm.CommandType) (Rule, bool) {
	r, ok := commands[t]
	return r, ok
}

// AuthorizeUser checks that p may cause cmd: its rights grant the command's
// permission in the command's project, and the rule's own check passes. A
// batch is never a user's. It returns ErrForbidden naming the command and
// what is missing.
func AuthorizeUser(p *Principal, cmd fsm.Command, o Objects) error {
	t := cmd.Type()
	r, ok := commands[t]
	if t == fsm.CmdBatch || !ok || r.User == (Perm{}) {
		return Errorf(ErrForbidden, "%s is written only by the cluster's nodes, never for a user (%s)", t, p.User)
	}
	project, found := "", true
	if r.Scope != nil {
		project, found = r.Scope(cmd, o)
	}
	if found && r.User != self && !p.Allowed(project, r.User) {
		return Errorf(ErrForbidden, "%s: %s", t, p.Explain(project, r.User))
	}
	if r.Check != nil {
		if err := r.Check(p, cmd, o); err != nil {
			return Errorf(ErrForbidden, "%s: %v", t, err)
		}
	}
	return nil
}

// AuthorizeNode checks that nodes write cmd on their own (for a batch, each of
// its entries), so the leader may take it from another node with no token
// behind it. It returns ErrForbidden naming the command otherwise.
func AuthorizeNode(cmd fsm.Command) error {
	return eachType(cmd, func(t fsm.CommandType) string {
		if r, ok := commands[t]; !ok || !r.Node {
			return fmt.Sprintf("%s needs the token of the user who asked for it: a node may not apply it on its own", t)
		}
		return ""
	})
}

// eachType runs refuse on cmd's type, or on the type of each entry of a
// batch, and turns the first refusal into an ErrForbidden error.
func eachType(cmd fsm.Command, refuse func(fsm.CommandType) string) error {
	var entries []fsm.BatchEntry
	switch b := cmd.(type) {
	case *fsm.Batch:
		entries = b.Entries
	case fsm.Batch:
		entries = b.Entries
	default:
		if why := refuse(cmd.Type()); why != "" {
			return Errorf(ErrForbidden, "%s", why)
		}
		return nil
	}
	for i, e := range entries {
		if why := refuse(e.Type); why != "" {
			return Errorf(ErrForbidden, "batch entry %d: %s", i, why)
		}
	}
	return nil
}

// Errorf wraps ErrUnauthenticated or ErrForbidden with a message for people:
// it matches the sentinel with errors.Is and reads as the message alone.
func Errorf(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }
