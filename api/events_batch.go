package api

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxHeldBytes bounds what a batchConn holds before it writes through: a
// batch of frames read together (at most a few hundred) goes out in a few
// TLS records rather than waiting on a buffer that grows without end.
const maxHeldBytes = 64 << 10

// batchConn lets the event stream send the WebSocket messages of frames read
// together in one write. The library flushes every message to its
// connection on its own; while held, this connection keeps those bytes and
// release sends them at once.
//
// Why: a frame written alone costs a TLS record and a write system call
// each, the greater part of a stream's CPU. When changes come close
// together (a VM's creation, then its host's report), the readers that the
// fan-out reaches late find both frames waiting: one write each instead of
// two, for the node and for the reader (the NDJSON stream has always
// written a batch at once). With 1,000 readers it took a tenth off the
// p99 of delivery at 10 changes a second, a fifth at 50
// (docs/BENCHMARKS.md).
type batchConn struct {
	net.Conn

	mu      sync.Mutex // orders held bytes before any write of the library's own (a pong)
	holding bool
	held    []byte
}

// Write holds p while a batch is under way, and otherwise writes what is
// held, then p.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding && len(c.held)+len(p) <= maxHeldBytes {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if err := c.writeHeldLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// hold starts (or goes on with) a batch.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release ends the batch, writing what it held.
func (c *batchConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	return c.writeHeldLocked()
}

// Close sends what is held first, when no write is under way: the library
// closes the connection right after its answer to a client's close, which
// may be held. A write that is stuck keeps the lock, and Close must not
// wait for it (the watchdog closes a stuck connection).
func (c *batchConn) Close() error {
	if c.mu.TryLock() {
		if len(c.held) > 0 {
			c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			c.writeHeldLocked()
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
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
