package fsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/tinylib/msgp/msgp"
)

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file audit.go -o audit_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file failover.go -o failover_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file failover_types.go -o failover_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file jointoken.go -o jointoken_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file keyring.go -o keyring_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file migration.go -o migration_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file migration_types.go -o migration_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file node.go -o node_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file node_types.go -o node_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file placement_types.go -o placement_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file member.go -o member_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file project.go -o project_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file role.go -o role_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file retention.go -o retention_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file removal.go -o removal_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file settings.go -o settings_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file token.go -o token_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file user.go -o user_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file vm.go -o vm_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file vm_types.go -o vm_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file vm_spec_parts.go -o vm_spec_parts_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file image.go -o image_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file pool.go -o pool_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file volume.go -o volume_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file vm_snapshot.go -o vm_snapshot_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file alert_types.go -o alert_types_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file alert_targets.go -o alert_targets_msgp.go -tests=false -io=false
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file alert.go -o alert_msgp.go -tests=false -io=false

// The MessagePack code (FILE_msgp.go beside each FILE.go named above) is generated
// from the json tags, so a field has the same name, and omitempty the same
// meaning, in both formats. msgp reads its directives file by file, so each
// of those files opens with //msgp:tag json and //msgp:timezone utc: times
// decode in UTC, as the JSON the cluster writes does. A new file of types
// written to the log or a snapshot goes in the list with the same two lines;
// TestEncode_GeneratedCodeCoversEveryField fails if a type or field is
// missed. Every list and map field of the state and of the commands is
// omitempty (TestEncoding_EmptyListsAreOmitted): MessagePack decodes an empty
// list as none, and so both formats, the digest and a state restored from
// either hold the same thing.

// Log entry formats. Every entry written before issue 12 is format 1: the
// command type byte, then the command in JSON (a batch: {"entries":[{"t":
// type,"c":JSON}]}). Format 2 is what this build writes: formatV2 (0, a
// type no command has, so the two cannot be confused), the type byte, then
// the command in MessagePack. A format-2 batch is formatV2, CmdBatch, the
// entry count (uvarint), then per entry its type byte, its length (uvarint)
// and its MessagePack: the batch is framed, not parsed as a whole, so each
// entry is decoded once and fails on its own. This node reads both formats,
// so an existing log replays.
//
// JSON cost about five times the CPU of MessagePack per command (fsm
// BenchmarkCodec_CreateVM), on every node, for every write.
//
// Format 2 is part of BaseVersion: no release has shipped with format 1
// only, so every node that can apply the log reads it.
const formatV2 byte = 0

// maxBatchEntries bounds the entry count a format-2 batch may claim before
// its entries are read, so a corrupt count cannot make a huge allocation.
const maxBatchEntries = 1 << 16

// Encode turns a command into a log entry in format 2.
func Encode(c Command) ([]byte, error) {
	if b, ok := asBatch(c); ok {
		return b.encode()
	}
	m, err := marshaler(c)
	if err != nil {
		return nil, err
	}
	size := 64
	if s, ok := m.(msgp.Sizer); ok {
		size = s.Msgsize()
	}
	out, err := m.MarshalMsg(append(make([]byte, 0, 2+size), formatV2, byte(c.Type())))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
	}
	return out, nil
}

// marshaler returns c as a msgp.Marshaler: the generated MarshalMsg of some
// types has a pointer receiver, so a command passed by value is copied to one.
func marshaler(c Command) (msgp.Marshaler, error) {
	if m, ok := c.(msgp.Marshaler); ok {
		return m, nil
	}
	p := reflect.New(reflect.TypeOf(c))
	p.Elem().Set(reflect.ValueOf(c))
	if m, ok := p.Interface().(msgp.Marshaler); ok {
		return m, nil
	}
	return nil, fmt.Errorf("encode %s: %T has no MessagePack encoding (run go generate ./fsm)", c.Type(), c)
}

// decodeBody decodes one command's payload in the given format into c.
func decodeBody(binaryFormat bool, body []byte, c any) error {
	if !binaryFormat {
		return decodeJSON(body, c)
	}
	u, ok := c.(msgp.Unmarshaler)
	if !ok {
		return fmt.Errorf("%T has no MessagePack decoding", c)
	}
	rest, err := u.UnmarshalMsg(body)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the command", len(rest))
	}
	return nil
}

// decodeEntry decodes a log entry as Apply takes it: the type and its own
// payload, but not the entries of a batch, which applyBatch decodes one by one
// so that each bad entry fails on its own.
func decodeEntry(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, errorf(ErrMalformed, "empty command")
	}
	binaryFormat := b[0] == formatV2
	if binaryFormat {
		if len(b) < 2 {
			return nil, errorf(ErrMalformed, "a format-2 entry without a command type")
		}
		b = b[1:]
	}
	t := CommandType(b[0])
	e, ok := commands[t]
	if !ok {
		return nil, &UnknownCommandError{Type: t}
	}
	if t == CmdBatch && binaryFormat {
		batch, err := decodeFramedBatch(b[1:])
		if err != nil {
			return nil, errorf(ErrMalformed, "decode %s: %v", t, err)
		}
		return batch, nil
	}
	c := e.new()
	if err := decodeBody(binaryFormat, b[1:], c); err != nil {
		return nil, errorf(ErrMalformed, "decode %s: %v", t, err)
	}
	return c, nil
}

// encode frames a batch in format 2. A batch with an entry in JSON (one
// read from a format-1 entry, such as a forwarded batch from a node of an
// earlier build) is written in format 1 as it came, entry bodies untouched.
func (b *Batch) encode() ([]byte, error) {
	size := 2 + binary.MaxVarintLen64
	for _, e := range b.Entries {
		if !e.binary {
			body, err := json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", CmdBatch, err)
			}
			return append([]byte{byte(CmdBatch)}, body...), nil
		}
		size += 1 + binary.MaxVarintLen64 + len(e.Body)
	}
	out := append(make([]byte, 0, size), formatV2, byte(CmdBatch))
	out = binary.AppendUvarint(out, uint64(len(b.Entries)))
	for _, e := range b.Entries {
		out = append(out, byte(e.Type))
		out = binary.AppendUvarint(out, uint64(len(e.Body)))
		out = append(out, e.Body...)
	}
	return out, nil
}

// decodeFramedBatch reads a format-2 batch's frames (after its type byte).
// The entries keep their payloads undecoded.
func decodeFramedBatch(b []byte) (*Batch, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxBatchEntries || n > uint64(len(b)) {
		return nil, fmt.Errorf("bad entry count")
	}
	b = b[k:]
	batch := &Batch{Entries: make([]BatchEntry, 0, n)}
	for i := range n {
		if len(b) == 0 {
			return nil, fmt.Errorf("entry %d: missing", i)
		}
		t := CommandType(b[0])
		size, k := binary.Uvarint(b[1:])
		if k <= 0 || size > uint64(len(b)-1-k) {
			return nil, fmt.Errorf("entry %d: bad length", i)
		}
		start := 1 + k
		batch.Entries = append(batch.Entries, BatchEntry{Type: t, Body: json.RawMessage(b[start : start+int(size)]), binary: true})
		b = b[start+int(size):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last entry", len(b))
	}
	return batch, nil
}
