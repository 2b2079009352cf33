// Package eventlog is the cluster's event stream as one node serves it:
// every change the node applies is an event keyed by the Raft index that
// made it, kept for a set time (an hour by default) so that a client that
// lost its connection resumes exactly after the last index it saw.
//
// The journal hears the FSM losslessly (fsm.Observer), one frame per Raft
// index that changed something, in order. Readers do not get a channel of
// their own that could fill and drop: each keeps a cursor (the last index
// it sent) and reads the frames after it, then waits for the next append.
// A reader whose cursor fell behind what the journal keeps gets an explicit
// gap (Nomad replays silently and Incus cannot resume at all): it then
// reloads what it shows from the API and follows on from the gap's index.
package eventlog

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/novacron/novacron/fsm"
)

// Event is one change in the stream, as the API sends it.
type Event struct {
	// Type is the kind of object changed: vm, node, migration, image,
	// volume, pool, project, user, session, token, join_token, role,
	// failover, audit, settings, retention, cluster, gossip_keyring,
	// alert, alert_rule, silence, alert_target; and gap for the journal's
	// own notice.
	Type string `json:"type"`
	// Action is the change, the command's name in snake case (create_vm,
	// report_vm, update_migration, set_node_status, ...).
	Action string `json:"action"`
	ID     string `json:"id,omitempty"`
	// Name and Project are the object's (as it was, for a deletion);
	// Project is empty for the cluster's own objects.
	Name    string `json:"name,omitempty"`
	Project string `json:"project,omitempty"`
	// VM is the VM a migration moves.
	VM string `json:"vm,omitempty"`
	// Message explains a gap.
	Message string `json:"message,omitempty"`
}

// Frame is what one Raft index changed; a frame without events is a
// heartbeat that tells the reader how far it has read.
type Frame struct {
	Index uint64    `json:"index"`
	Time  time.Time `json:"time"`
	// Events is never null on the wire: an empty list is a heartbeat.
	Events []Event `json:"events"`
}

// frame is a Frame as the journal keeps it, with its events' JSON encoded
// once for every reader, by the first one.
type frame struct {
	Frame
	once    sync.Once
	encoded [][]byte
}

func (f *frame) encodedEvents() [][]byte {
	f.once.Do(func() {
		f.encoded = make([][]byte, len(f.Events))
		for i, ev := range f.Events {
			f.encoded[i], _ = json.Marshal(ev) // plain strings: cannot fail
		}
	})
	return f.encoded
}

// quiet are the commands that change nothing a person follows: a host's
// heartbeat, a key's or a session's last use.
var quiet = map[fsm.CommandType]bool{fsm.CmdReportHost: true, fsm.CmdTouchToken: true, fsm.CmdRefreshSession: true}

// actions caches each command type's snake-case name.
var actions sync.Map // fsm.CommandType -> string

// wireEvents turns an index's FSM events into the stream's, leaving out the
// quiet ones and internal wake-ups.
func wireEvents(evs []fsm.Event) []Event {
	var out []Event
	for _, ev := range evs {
		if quiet[ev.Type] || ev.Kind == "" {
			continue
		}
		out = append(out, Event{Type: strings.ReplaceAll(ev.Kind, "-", "_"), Action: actionOf(ev.Type),
			ID: ev.ID, Name: ev.Name, Project: ev.Project, VM: ev.VM})
	}
	return out
}

func actionOf(t fsm.CommandType) string {
	if a, ok := actions.Load(t); ok {
		return a.(string)
	}
	a := snakeCase(t.String())
	actions.Store(t, a)
	return a
}

// snakeCase turns CreateVMSnapshot into create_vm_snapshot: a word starts
// at an upper-case letter after a lower-case one, or at the last capital of
// an acronym followed by a lower-case letter.
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prevLower := unicode.IsLower(r[i-1])
			acronymEnd := unicode.IsUpper(r[i-1]) && i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || acronymEnd {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
