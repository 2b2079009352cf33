package fsm

import "maps"

// Which commands may arrive from another node. A follower forwards its writes
// to the leader's internal apply endpoint (cluster/internal_http.go), which
// any node of the cluster can call (with TLS, any holder of a node
// certificate; without it, anyone); the leader accepts there only the types
// that some node's Agent.Apply is ever called with, so a command meant to be
// written by the leader itself (InitCluster, which sets the cluster's
// identity) never comes in from the network. Who may cause each of these
// types (a user's token, a node, or both) is package authz's table.
//
// The list was made from every call of Apply and ApplyInBatches in api/,
// host/, control/, fleet/ and cluster/. control runs only on the leader, but
// a leader that has just lost leadership forwards what it was writing, so its
// commands are here too. A new command type must be put in one of the two
// tables (TestForwardable_EveryTypeClassified).
var forwardable = map[CommandType]string{
	CmdRegisterNode:      "cluster: member reconcile; fleet: its simulated hosts",
	CmdSetNodeStatus:     "cluster: member reconcile, a node's own leave; control: failure detection, fleets",
	CmdCreateVM:          "api",
	CmdUpdateVM:          "api",
	CmdDeleteVM:          "api",
	CmdVMAction:          "api; host: stopping a VM it could not start",
	CmdPlaceVM:           "control: placement",
	CmdReportVM:          "host: the reconciler's reports (alone or in a batch)",
	CmdCreateToken:       "api",
	CmdRevokeToken:       "api",
	CmdBootstrapToken:    "cluster: --bootstrap-token, from any node configured with it",
	CmdBatch:             "host: batched reports; cluster: ApplyInBatches (control, fleet)",
	CmdReportHost:        "host: foreign domains",
	CmdCreateMigration:   "api; control: drains, rebalancing",
	CmdUpdateMigration:   "host: migration progress; control: admission",
	CmdCancelMigration:   "api",
	CmdSetMaintenance:    "api",
	CmdSetNodeLabels:     "api",
	CmdDomainRemoved:     "host: domains of deleted vms removed",
	CmdCreateProject:     "api",
	CmdUpdateProject:     "api",
	CmdDeleteProject:     "api",
	CmdSetMember:         "api",
	CmdCreateRole:        "api",
	CmdDeleteRole:        "api",
	CmdRecordAudit:       "login: the audit of requests, recorded in batches by the node that served them",
	CmdTouchToken:        "login: a key in use, its last use recorded by the node it reached",
	CmdCreateUser:        "api",
	CmdUpdateUser:        "api",
	CmdDeleteUser:        "api",
	CmdCreateSession:     "login: the node that checked the password",
	CmdRevokeSession:     "login: a logout, or an admin's revoke, once the API checked the caller",
	CmdRefreshSession:    "login: a session in use, moved forward by the node it reached",
	CmdSetSettings:       "api",
	CmdCreatePool:        "api",
	CmdDeletePool:        "api",
	CmdCreateImage:       "api",
	CmdUpdateImage:       "host: an import finished, or a host copied an image",
	CmdDeleteImage:       "api",
	CmdCancelImageImport: "api",
	CmdPutAlertRule:      "api",
	CmdDeleteAlertRule:   "api",
	CmdUpdateAlerts:      "control: the alert rules' evaluation and the notifications sent (package alerting, a leader loop)",
	CmdAckAlert:          "api",
	CmdCreateSilence:     "api",
	CmdDeleteSilence:     "api",
	CmdPutAlertTarget:    "api",
	CmdDeleteAlertTarget: "api",
	CmdCreateVolume:      "api",
	CmdResizeVolume:      "api",
	CmdDeleteVolume:      "api",
	CmdAttachVolume:      "api",
	CmdDetachVolume:      "api",
	CmdReportVolume:      "host: a volume made, grown, hot-plugged or removed",
	CmdCreateVMSnapshot:  "api",
	CmdRevertVMSnapshot:  "api",
	CmdDeleteVMSnapshot:  "api",
	CmdReportVMSnapshot:  "host: a snapshot taken, reverted to or deleted",
	CmdStartFailover:     "control: failover",
	CmdUpdateFailover:    "control: failover",
	CmdRemoveNode:        "control: retention reaps nodes that left or stayed failed",
	CmdPurgeRecords:      "control: retention of finished records and expired tokens",
	CmdCreateJoinToken:   "api",
	CmdUseJoinToken:      "cluster: a node enrolling a host that brings a join token (POST /api/v1/enroll, no user behind it)",
	CmdRevokeJoinToken:   "api",
	CmdGossipKeyring:     "api: install, use and remove (init is the leader's own: leaderOnly)",
}

// notForwarded lists the registered types that no node forwards, and why.
var notForwarded = map[CommandType]string{
	CmdInitCluster:  "written once by the first leader itself (applyLocal), never forwarded",
	CmdSetClusterCA: "written once by a leader started with --tls-ca-key (applyLocal), never forwarded: the CA key never comes in from the network",
}

// leaderOnlyForm is a forwardable command type with a form that only the
// leader writes itself, as InitCluster (GossipKeyring's init, which records
// the first leader's keyring). leaderOnly reports whether this command is of
// that form, and names it.
type leaderOnlyForm interface {
	leaderOnly() (bool, string)
}

// Forwardable reports whether the leader accepts cmd from another node: its
// type and, for a batch, the type of each entry is one that followers forward,
// and none is a leader-only form. Otherwise it returns an ErrMalformed error
// naming the type. cmd is what Decode returned, so a batch's entries are known
// to decode.
func Forwardable(cmd Command) error {
	t := cmd.Type()
	if _, ok := forwardable[t]; !ok {
		return errorf(ErrMalformed, "command type %s is not accepted from other nodes", t)
	}
	if lo, ok := cmd.(leaderOnlyForm); ok {
		if only, what := lo.leaderOnly(); only {
			return errorf(ErrMalformed, "%s is written by the leader itself, not accepted from other nodes", what)
		}
	}
	if b, ok := asBatch(cmd); ok {
		for i, e := range b.Entries {
			if _, ok := forwardable[e.Type]; !ok || e.Type == CmdBatch {
				return errorf(ErrMalformed, "batch entry %d: command type %s is not accepted from other nodes", i, e.Type)
			}
			// Only the few types with a leader-only form are decoded here.
			if lo, ok := commands[e.Type].new().(leaderOnlyForm); ok {
				if err := decodeBody(e.binary, e.Body, lo); err != nil {
					return errorf(ErrMalformed, "batch entry %d: decode %s: %v", i, e.Type, err)
				}
				if only, what := lo.leaderOnly(); only {
					return errorf(ErrMalformed, "batch entry %d: %s is written by the leader itself, not accepted from other nodes", i, what)
				}
			}
		}
	}
	return nil
}

// ForwardedBy returns, for each command type the leader accepts from other
// nodes, who applies it ("api", "host", "cluster", "control", "fleet", parts
// separated by ";", each optionally followed by ": why"). Package authz checks
// its table of who may cause each type against it.
func ForwardedBy() map[CommandType]string {
	return maps.Clone(forwardable)
}
