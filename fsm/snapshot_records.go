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
	recordNode      byte = 1
	recordVM        byte = 2
	recordToken     byte = 3
	recordMigration byte = 4
	recordFailover  byte = 5
	recordJoinToken byte = 6
)

// maxSnapshotRecord bounds one record's length, so a damaged length cannot
// make Restore allocate without bound.
const maxSnapshotRecord = 64 << 20

// errUnknownKind is a record of a kind this build does not know.
var errUnknownKind = errors.New("holds no entity kind this node knows (written by a newer node? upgrade this one)")

// entity returns the record's one entity and its kind.
func (r *snapshotRecord) entity() (byte, msgp.Marshaler) {
	switch {
	case r.Node != nil:
		return recordNode, r.Node
	case r.VM != nil:
		return recordVM, r.VM
	case r.Token != nil:
		return recordToken, r.Token
	case r.Migration != nil:
		return recordMigration, r.Migration
	case r.Failover != nil:
		return recordFailover, r.Failover
	case r.JoinToken != nil:
		return recordJoinToken, r.JoinToken
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
	var u msgp.Unmarshaler
	switch kind {
	case recordNode:
		r.Node = new(Node)
		u = r.Node
	case recordVM:
		r.VM = new(VM)
		u = r.VM
	case recordToken:
		r.Token = new(Token)
		u = r.Token
	case recordMigration:
		r.Migration = new(Migration)
		u = r.Migration
	case recordFailover:
		r.Failover = new(Failover)
		u = r.Failover
	case recordJoinToken:
		r.JoinToken = new(JoinToken)
		u = r.JoinToken
	default:
		return fmt.Errorf("kind %d %w", kind, errUnknownKind)
	}
	return decodeBody(true, body, u)
}

// noEOF turns an end of stream inside a record into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
