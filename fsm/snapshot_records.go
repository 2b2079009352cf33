package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tinylib/msgp/msgp"
)

// Snapshot stream formats. Both open with the header as one JSON line.
// Version 1 (every snapshot written before issue 12) follows it with one JSON
// record per line. Version 2, which this build writes, follows it with one
// binary record per entity: its kind (a byte), its length (uvarint) and the
// entity in MessagePack, as the log's format 2. JSON took about 1.3 s to
// write and 2.5 s to restore 100,000 VMs (BenchmarkSnapshot_Scale), every
// time the leader snapshots and every time a node catches up from one.
// Restore reads both versions. Version 2 is part of BaseVersion, as log
// format 2 is: no release has shipped without it.
const (
	snapshotJSONLines = 1
	snapshotBinary    = 2
)

// Record kinds of a version-2 snapshot: numbers of the format, never reused.
const (
	recordNode        byte = 1
	recordVM          byte = 2
	recordToken       byte = 3
	recordMigration   byte = 4
	recordFailover    byte = 5
	recordJoinToken   byte = 6
	recordRemoval     byte = 7
	recordProject     byte = 8
	recordUser        byte = 9
	recordSession     byte = 10
	recordRole        byte = 11
	recordAudit       byte = 12
	recordPool        byte = 13
	recordImage       byte = 14
	recordVolume      byte = 15
	recordAlertRule   byte = 16
	recordAlert       byte = 17
	recordSilence     byte = 18
	recordAlertTarget byte = 19
)

// recordKind ties a kind's number to its field of snapshotRecord: the one
// table both the writer and the reader go by.
type recordKind struct {
	kind byte
	// get returns the record's entity of this kind, nil if it holds none;
	// set gives the record a new, empty entity of this kind to decode into.
	get func(*snapshotRecord) msgp.Marshaler
	set func(*snapshotRecord) msgp.Unmarshaler
}

// entityKind makes the recordKind of the field field picks.
func entityKind[T any, P interface {
	*T
	msgp.Marshaler
	msgp.Unmarshaler
}](kind byte, field func(*snapshotRecord) *P) recordKind {
	return recordKind{
		kind: kind,
		get: func(r *snapshotRecord) msgp.Marshaler {
			if p := *field(r); p != nil {
				return p
			}
			return nil
		},
		set: func(r *snapshotRecord) msgp.Unmarshaler {
			p := P(new(T))
			*field(r) = p
			return p
		},
	}
}

var recordKinds = []recordKind{
	entityKind(recordNode, func(r *snapshotRecord) **Node { return &r.Node }),
	entityKind(recordVM, func(r *snapshotRecord) **VM { return &r.VM }),
	entityKind(recordToken, func(r *snapshotRecord) **Token { return &r.Token }),
	entityKind(recordMigration, func(r *snapshotRecord) **Migration { return &r.Migration }),
	entityKind(recordFailover, func(r *snapshotRecord) **Failover { return &r.Failover }),
	entityKind(recordJoinToken, func(r *snapshotRecord) **JoinToken { return &r.JoinToken }),
	entityKind(recordRemoval, func(r *snapshotRecord) **Removal { return &r.Removal }),
	entityKind(recordProject, func(r *snapshotRecord) **Project { return &r.Project }),
	entityKind(recordUser, func(r *snapshotRecord) **User { return &r.User }),
	entityKind(recordSession, func(r *snapshotRecord) **Session { return &r.Session }),
	entityKind(recordRole, func(r *snapshotRecord) **Role { return &r.Role }),
	entityKind(recordAudit, func(r *snapshotRecord) **AuditEntry { return &r.Audit }),
	entityKind(recordPool, func(r *snapshotRecord) **StoragePool { return &r.Pool }),
	entityKind(recordImage, func(r *snapshotRecord) **Image { return &r.Image }),
	entityKind(recordVolume, func(r *snapshotRecord) **Volume { return &r.Volume }),
	entityKind(recordAlertRule, func(r *snapshotRecord) **AlertRule { return &r.AlertRule }),
	entityKind(recordAlert, func(r *snapshotRecord) **Alert { return &r.Alert }),
	entityKind(recordSilence, func(r *snapshotRecord) **Silence { return &r.Silence }),
	entityKind(recordAlertTarget, func(r *snapshotRecord) **AlertTarget { return &r.AlertTarget }),
}

// maxSnapshotRecord bounds one record's length, so a damaged length cannot
// make Restore allocate without bound.
const maxSnapshotRecord = 64 << 20

// errUnknownKind is a record of a kind this build does not know.
var errUnknownKind = errors.New("holds no entity kind this node knows (written by a newer node? upgrade this one)")

// entity returns the record's entity and its kind (the first, if a damaged
// record holds several), or nil.
func (r *snapshotRecord) entity() (byte, msgp.Marshaler) {
	for _, k := range recordKinds {
		if m := k.get(r); m != nil {
			return k.kind, m
		}
	}
	return 0, nil
}

// writeBinaryRecord appends one version-2 record to w; buf is reused.
func writeBinaryRecord(w *bufio.Writer, r *snapshotRecord, buf []byte) ([]byte, error) {
	kind, m := r.entity()
	if m == nil {
		return buf, errors.New("snapshot record without an entity")
	}
	body, err := m.MarshalMsg(buf[:0])
	if err != nil {
		return buf, err
	}
	w.WriteByte(kind)
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], uint64(len(body)))])
	_, err = w.Write(body)
	return body, err
}

// binaryRecords reads version-2 records.
type binaryRecords struct{ r *bufio.Reader }

// next decodes the next record into r; io.EOF means the stream ended cleanly
// after a whole record.
func (b *binaryRecords) next(r *snapshotRecord) error {
	kind, err := b.r.ReadByte()
	if err != nil {
		return err
	}
	size, err := binary.ReadUvarint(b.r)
	if err != nil {
		return fmt.Errorf("record length: %w", noEOF(err))
	}
	if size > maxSnapshotRecord {
		return fmt.Errorf("a record of %d bytes, more than %d", size, maxSnapshotRecord)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(b.r, body); err != nil {
		return fmt.Errorf("record body: %w", noEOF(err))
	}
	for _, k := range recordKinds {
		if k.kind == kind {
			return decodeBody(true, body, k.set(r))
		}
	}
	return fmt.Errorf("kind %d %w", kind, errUnknownKind)
}

// noEOF turns an end of stream inside a record into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
