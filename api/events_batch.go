package api

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
)

// maxHeldBytes bounds what a batchConn holds before it writes through: a
// batch of frames read together (at most a few hundred) goes out in a few
// TLS records rather than waiting on a buffer that grows without end.
const maxHeldBytes = 64 << 10

// batchConn lets the event stream send the WebSocket messages of frames read
// together in one write: writeText holds each message, framed, and release
// sends what is held at once. The library's own writes (its answers to
// pings and to a close) pass through Write, after what is held.
//
// Why: a frame written alone costs a TLS record and a write system call
// each, the greater part of a stream's CPU. When changes come close
// together (a VM's creation, then its host's report), the readers that the
// fan-out reaches late find both frames waiting: one write each instead of
// two, for the node and for the reader (the NDJSON stream has always
// written a batch at once). With 1,000 readers it took a tenth off the
// p99 of delivery at 10 changes a second, a fifth at 50
// (docs/BENCHMARKS.md). The messages are framed here, not by the library:
// its Write locks, sets up and flushes a buffer per message, a tenth of
// the node's CPU per reader and frame; a server's text frame is two to ten
// bytes of header before the text (RFC 6455 5.2), and the library
// negotiates no compression here.
type batchConn struct {
	net.Conn

	mu        sync.Mutex // orders the batch and the library's writes
	held      []byte
	closeSent bool // the library sent its close frame: no message may follow
}

// opClose is a close frame's opcode, the low bits of its first byte.
const opClose = 0x8

// writeText holds p as one text message, until release or until the
// batch outgrows maxHeldBytes.
func (c *batchConn) writeText(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if c.held = appendTextFrame(c.held, p); len(c.held) <= maxHeldBytes {
		return nil
	}
	return c.writeHeldLocked()
}

// appendTextFrame appends p as an unmasked, final text frame.
func appendTextFrame(b, p []byte) []byte {
	n := len(p)
	b = append(b, 0x80|0x1) // FIN, text
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// Write is the library's: whole frames (control frames, each flushed on
// its own), written after what is held, so that a close frame follows the
// messages before it. Once it is written, writeText takes no more. (A
// connection closed without one, dropped, loses what is held: nobody is
// left to read it.)
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		c.closeSent = true
	}
	if err := c.writeHeldLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// release sends what is held.
func (c *batchConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeHeldLocked()
}

func (c *batchConn) writeHeldLocked() error {
	if len(c.held) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.held)
	c.held = c.held[:0]
	return err
}

// batchHijacker gives the WebSocket library a batchConn when it takes the
// connection over.
type batchHijacker struct {
	http.ResponseWriter
	conn *batchConn
}

// Hijack takes the connection over and wraps it (http.Hijacker). net/http
// has sent the handshake's answer by then; its buffer is flushed all the
// same, so that nothing could come after what the wrapper writes.
func (h *batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: nc}
	return h.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(h.conn, brw.Writer.Size())), nil
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (h *batchHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
