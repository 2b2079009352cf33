package fsm

import "fmt"

// CommandType identifies a command in the Raft log. The numbers are part of the log
// format: they are explicit, append-only, and a retired number is never reused.
type CommandType uint8

// IgnorableFlag marks a command type that an older node may skip. Any other unknown
// type in a top-level log entry stops the node, because skipping it would let
// state diverge; inside a batch it fails that entry alone (see safety.go).
const IgnorableFlag CommandType = 0x80

// Command types. New types go at the end.
const (
	CmdRegisterNode      CommandType = 1
	CmdSetNodeStatus     CommandType = 2
	CmdRemoveNode        CommandType = 3
	CmdCreateVM          CommandType = 4
	CmdUpdateVM          CommandType = 5
	CmdDeleteVM          CommandType = 6
	CmdVMAction          CommandType = 7
	CmdPlaceVM           CommandType = 8
	CmdReportVM          CommandType = 9
	CmdCreateToken       CommandType = 10
	CmdRevokeToken       CommandType = 11
	CmdInitCluster       CommandType = 12
	CmdBootstrapToken    CommandType = 13
	CmdBatch             CommandType = 14
	CmdReportHost        CommandType = 15
	CmdCreateMigration   CommandType = 16
	CmdUpdateMigration   CommandType = 17
	CmdCancelMigration   CommandType = 18
	CmdSetMaintenance    CommandType = 19
	CmdSetSettings       CommandType = 20
	CmdStartFailover     CommandType = 21
	CmdUpdateFailover    CommandType = 22
	CmdPurgeRecords      CommandType = 23
	CmdGossipKeyring     CommandType = 24
	CmdCreateJoinToken   CommandType = 25
	CmdUseJoinToken      CommandType = 26
	CmdRevokeJoinToken   CommandType = 27
	CmdSetClusterCA      CommandType = 28
	CmdSetNodeLabels     CommandType = 29
	CmdDomainRemoved     CommandType = 30
	CmdCreateProject     CommandType = 31
	CmdUpdateProject     CommandType = 32
	CmdDeleteProject     CommandType = 33
	CmdCreateUser        CommandType = 34
	CmdUpdateUser        CommandType = 35
	CmdDeleteUser        CommandType = 36
	CmdCreateSession     CommandType = 37
	CmdRevokeSession     CommandType = 38
	CmdRefreshSession    CommandType = 39
	CmdSetMember         CommandType = 40
	CmdCreateRole        CommandType = 41
	CmdDeleteRole        CommandType = 42
	CmdTouchToken        CommandType = 43
	CmdRecordAudit       CommandType = 44
	CmdCreatePool        CommandType = 45
	CmdDeletePool        CommandType = 46
	CmdCreateImage       CommandType = 47
	CmdUpdateImage       CommandType = 48
	CmdDeleteImage       CommandType = 49
	CmdCreateVolume      CommandType = 50
	CmdResizeVolume      CommandType = 51
	CmdDeleteVolume      CommandType = 52
	CmdAttachVolume      CommandType = 53
	CmdDetachVolume      CommandType = 54
	CmdReportVolume      CommandType = 55
	CmdCreateVMSnapshot  CommandType = 56
	CmdRevertVMSnapshot  CommandType = 57
	CmdDeleteVMSnapshot  CommandType = 58
	CmdReportVMSnapshot  CommandType = 59
	CmdCancelImageImport CommandType = 60
	CmdPutAlertRule      CommandType = 61
	CmdDeleteAlertRule   CommandType = 62
	CmdUpdateAlerts      CommandType = 63
	CmdAckAlert          CommandType = 64
	CmdCreateSilence     CommandType = 65
	CmdDeleteSilence     CommandType = 66
	CmdPutAlertTarget    CommandType = 67
	CmdDeleteAlertTarget CommandType = 68
)

// Command is one typed change to cluster state.
type Command interface {
	Type() CommandType
}

// commandEntry is how the FSM decodes and applies one command type.
type commandEntry struct {
	name  string
	new   func() Command
	apply func(s *state, cmd Command, index uint64) error
}

var commands = map[CommandType]commandEntry{}

// register adds a command type to the dispatch table; a duplicate is a programming
// error and panics at start-up.
func register[C any, PC interface {
	*C
	Command
}](t CommandType, name string, apply func(s *state, c *C, index uint64) error) {
	if _, dup := commands[t]; dup {
		panic(fmt.Sprintf("fsm: command type %d registered twice", t))
	}
	commands[t] = commandEntry{
		name: name,
		new:  func() Command { return PC(new(C)) },
		apply: func(s *state, cmd Command, index uint64) error {
			return apply(s, (*C)(cmd.(PC)), index)
		},
	}
}

// String names the command type for logs and errors.
func (t CommandType) String() string {
	if e, ok := commands[t]; ok {
		return e.name
	}
	return fmt.Sprintf("unknown(%d)", uint8(t))
}

// Decode turns an encoded command back into its command, as the leader receives
// it before proposing it: fields this build does not know are ignored (see
// decodeJSON for the policy), an unknown type returns an UnknownCommandError
// (with the ignorable bit reported so the caller can decide), and a Batch is
// checked entry by entry (Batch.validate), so a batch that Apply could only
// refuse piece by piece never reaches the log.
func Decode(b []byte) (Command, error) {
	c, err := decodeEntry(b)
	if err != nil {
		return nil, err
	}
	if batch, ok := c.(*Batch); ok {
		if err := batch.validate(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// UnknownCommandError is returned by Decode for a type this build does not know.
type UnknownCommandError struct{ Type CommandType }

func (e *UnknownCommandError) Error() string {
	return fmt.Sprintf("unknown command type %d", uint8(e.Type))
}

// Ignorable reports whether an older node may skip this command.
func (e *UnknownCommandError) Ignorable() bool { return e.Type&IgnorableFlag != 0 }
