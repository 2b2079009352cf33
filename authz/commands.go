package authz

import (
	"fmt"

	"github.com/novacron/novacron/fsm"
)

// Rule says who may cause a command type that reaches the leader from other
// nodes (fsm.Forwardable): a user, through a token whose role grants User, or
// a node on its own, or both.
type Rule struct {
	// User is the permission a token needs for the command; the zero Perm
	// when no token may cause it.
	User Perm
	// Node: nodes write the command on their own, with no user behind it (a
	// host's reports, the leader's loops, the member reconcile).
	Node bool
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
)

// commands is the one table of who may cause each forwardable command type.
// Every type in fsm's forwardable table has a row
// (TestCommands_EveryForwardableTypeClassified). The API route that applies a
// type needs its permission (POST /vms/{id}/migrate needs vm write and, for
// CreateMigration, migration write), so what the API lets through, the leader
// takes.
var commands = map[fsm.CommandType]Rule{
	fsm.CmdCreateVM:        {User: vmWrite},
	fsm.CmdUpdateVM:        {User: vmWrite},
	fsm.CmdDeleteVM:        {User: vmWrite},
	fsm.CmdVMAction:        {User: vmWrite, Node: true},        // a host stops a VM it could not start
	fsm.CmdCreateMigration: {User: migrationWrite, Node: true}, // the leader's drains and rebalancing
	fsm.CmdCancelMigration: {User: migrationWrite},
	fsm.CmdSetMaintenance:  {User: nodeWrite},
	fsm.CmdSetNodeLabels:   {User: nodeWrite},
	fsm.CmdDomainRemoved:   {Node: true},
	fsm.CmdCreateProject:   {User: projectWrite},
	fsm.CmdUpdateProject:   {User: projectWrite},
	fsm.CmdDeleteProject:   {User: projectWrite},
	fsm.CmdCreateUser:      {User: userWrite},
	fsm.CmdUpdateUser:      {User: userWrite},
	fsm.CmdDeleteUser:      {User: userWrite},
	// A login has no caller yet: the node that checked the password writes
	// the session. A logout, a revoke and a refresh are written by the node
	// too, once the API has checked the caller (a reader may end its own
	// session, which its role alone would not allow).
	fsm.CmdCreateSession:  {Node: true},
	fsm.CmdRevokeSession:  {Node: true},
	fsm.CmdRefreshSession: {Node: true},
	fsm.CmdSetSettings:    {User: settingsWrite},
	fsm.CmdCreateToken:    {User: tokenWrite},
	fsm.CmdRevokeToken:    {User: tokenWrite},
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

// AuthorizeUser checks that a token of role may cause cmd (for a batch, each
// of its entries). It returns ErrForbidden naming the command and the role
// otherwise.
func AuthorizeUser(role string, cmd fsm.Command) error {
	return eachType(cmd, func(t fsm.CommandType) string {
		r, ok := commands[t]
		switch {
		case !ok || r.User == (Perm{}):
			return fmt.Sprintf("%s is written only by the cluster's nodes, never for a token (role %q)", t, role)
		case !Allowed(role, r.User):
			return fmt.Sprintf("role %q may not apply %s: it needs permission to %s", role, t, r.User)
		}
		return ""
	})
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
