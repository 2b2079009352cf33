package api

import (
	"net"
	"net/http"
	"sync"
)

// HTTPServer returns the http.Server that serves h (the API, and on an agent
// the internal routes beside it) with the config's bounds: a client has
// ReadHeaderTimeout to send its headers and ReadTimeout to send the whole
// request, body included, so a body trickled in a byte at a time is cut; an
// answer must be written within WriteTimeout, so a reader that never reads
// frees its connection and buffer; headers beyond MaxHeaderBytes are refused
// with 431. No route streams today; one that does must lift its own write
// deadline (http.ResponseController.SetWriteDeadline), as the API's writer
// unwraps to the connection's.
func (c Config) HTTPServer(h http.Handler) *http.Server {
	c = c.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
	}
}

// Listener wraps ln so that at most MaxConns connections are open at once
// (idle keep-alive ones included); the next waits in the kernel's accept queue
// until one closes. Together with the timeouts this bounds what unauthenticated
// clients can hold: connections, goroutines and buffers.
func (c Config) Listener(ln net.Listener) net.Listener {
	c = c.withDefaults()
	return &limitListener{Listener: ln, sem: make(chan struct{}, c.MaxConns), done: make(chan struct{})}
}

// limitListener is a semaphore around Accept (golang.org/x/net/netutil's
// LimitListener, which this module does not otherwise need).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection that holds it until closed.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: conn, release: func() { <-l.sem }}, nil
}

// Close stops Accept, including one waiting for a slot.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn frees its listener slot once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
