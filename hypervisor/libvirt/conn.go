package libvirt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	golibvirt "libvirt.org/go/libvirt"
)

// Keepalive: a silent daemon is declared dead after about interval*(count+1)
// seconds. A daemon that exits is noticed at once (the socket closes).
const (
	keepAliveInterval = 5
	keepAliveCount    = 3
	reconnectMin      = 100 * time.Millisecond
	// maxInFlight bounds the calls in flight on one connection. libvirt 9.0's
	// client crashes (SIGSEGV in virConnectListAllDomains, seen here with a
	// SIGSTOPped libvirtd) when a keepalive timeout closes a connection on
	// which two or more calls wait; with one it reports the timeout cleanly.
	// So calls on a connection run one at a time, which also keeps a hung
	// daemon from collecting a thread per abandoned call. Local calls take
	// well under a millisecond except create (~0.3 s) and destroy (~1.6 s
	// under TCG).
	maxInFlight  = 1
	reconnectMax = 2 * time.Second
)

var (
	loopOnce sync.Once
	loopErr  error
)

// Available loads libvirt.so.0 and starts the process-wide libvirt event loop,
// once per process. It returns why libvirt cannot be used here (library missing,
// symbols missing), or nil. New calls it; tests call it to skip cleanly.
func Available() error {
	loopOnce.Do(func() {
		if err := golibvirt.EventRegisterDefaultImpl(); err != nil {
			loopErr = fmt.Errorf("load libvirt (libvirt.so.0) and register its event loop: %w", err)
			return
		}
		go func() {
			// The default event loop dispatches domain events, close callbacks
			// and keepalives for every connection in the process; it runs for
			// the life of the process, like libvirt's own clients do.
			for {
				if err := golibvirt.EventRunDefaultImpl(); err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	})
	return loopErr
}

// lconn is one libvirt connection and what was registered on it. Calls hold a
// reference (refs) so that a connection retired by the reconnect path is closed
// only when the last call on it has returned.
type lconn struct {
	c           *golibvirt.Connect
	seq         uint64
	callbackIDs []int
	slots       chan struct{} // one per call in flight, at most maxInFlight
	// refs, retired and closed are guarded by Driver.mu.
	refs    int
	retired bool
	closed  bool
}

// dial opens a connection and registers keepalive, the close callback and the
// domain event callbacks on it. It gives up after timeout, closing a connection
// that arrives later, because virConnectOpen cannot be interrupted.
func (d *Driver) dial(timeout time.Duration, stop <-chan struct{}) (*lconn, error) {
	type result struct {
		lc  *lconn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		lc, err := d.dialNow()
		ch <- result{lc, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	abandon := func(why error) error {
		go func() {
			if r := <-ch; r.lc != nil {
				closeConn(r.lc, d)
			}
		}()
		return why
	}
	select {
	case r := <-ch:
		return r.lc, r.err
	case <-timer.C:
		return nil, abandon(fmt.Errorf("connect to %s: no answer within %s", d.cfg.URI, timeout))
	case <-stop:
		return nil, abandon(ErrClosed)
	}
}

func (d *Driver) dialNow() (*lconn, error) {
	c, err := golibvirt.NewConnect(d.cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.cfg.URI, err)
	}
	d.mu.Lock()
	d.connSeq++
	lc := &lconn{c: c, seq: d.connSeq, slots: make(chan struct{}, maxInFlight)}
	d.mu.Unlock()
	// Drivers without keepalive (test://, in-process ones) refuse it; a local
	// in-process driver cannot lose its daemon anyway.
	if err := c.SetKeepAlive(keepAliveInterval, keepAliveCount); err != nil {
		d.logger.Debug("keepalive not available", "error", err)
	}
	if err := c.RegisterCloseCallback(func(_ *golibvirt.Connect, reason golibvirt.ConnectCloseReason) {
		d.markBroken(lc, fmt.Errorf("connection closed by libvirt (reason %s)", closeReason(reason)))
	}); err != nil {
		d.logger.Debug("close callback not available", "error", err)
	}
	id, err := c.DomainEventLifecycleRegister(nil, d.onLifecycle)
	if err != nil {
		closeConn(lc, d)
		return nil, fmt.Errorf("register lifecycle events on %s: %w", d.cfg.URI, err)
	}
	lc.callbackIDs = append(lc.callbackIDs, id)
	if id, err := c.DomainEventRebootRegister(nil, d.onReboot); err == nil {
		lc.callbackIDs = append(lc.callbackIDs, id)
	} else {
		d.logger.Debug("reboot events not available", "error", err)
	}
	return lc, nil
}

func closeReason(r golibvirt.ConnectCloseReason) string {
	switch r {
	case golibvirt.CONNECT_CLOSE_REASON_ERROR:
		return "error"
	case golibvirt.CONNECT_CLOSE_REASON_EOF:
		return "eof"
	case golibvirt.CONNECT_CLOSE_REASON_KEEPALIVE:
		return "keepalive timeout"
	case golibvirt.CONNECT_CLOSE_REASON_CLIENT:
		return "client"
	}
	return fmt.Sprintf("%d", int(r))
}

// closeConn drops what dial registered and closes the connection. On a dead
// connection the deregistrations fail at once; their errors do not matter.
func closeConn(lc *lconn, d *Driver) {
	for _, id := range lc.callbackIDs {
		_ = lc.c.DomainEventDeregister(id)
	}
	_ = lc.c.UnregisterCloseCallback()
	if _, err := lc.c.Close(); err != nil {
		d.logger.Debug("closing libvirt connection", "seq", lc.seq, "error", err)
	}
}

// acquire returns the live connection with a reference taken, or why there is
// none.
func (d *Driver) acquire() (*lconn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if d.conn == nil {
		return nil, fmt.Errorf("%w: %s (reconnecting in the background): %v", ErrDisconnected, d.cfg.URI, d.connErr)
	}
	d.conn.refs++
	return d.conn, nil
}

// release drops a reference and closes a retired connection on the last one.
func (d *Driver) release(lc *lconn) {
	d.mu.Lock()
	lc.refs--
	last := lc.retired && lc.refs == 0 && !lc.closed
	if last {
		lc.closed = true
	}
	d.mu.Unlock()
	if last {
		closeConn(lc, d)
	}
}

// retireLocked takes lc out of service; it reports whether the caller must close
// it now (no call holds it). d.mu is held.
func (d *Driver) retireLocked(lc *lconn) bool {
	lc.retired = true
	if lc.refs == 0 && !lc.closed {
		lc.closed = true
		return true
	}
	return false
}

// markBroken retires lc if it is still the live connection and wakes the
// reconnect loop. It may run on the event loop thread, so it never blocks.
func (d *Driver) markBroken(lc *lconn, cause error) {
	d.mu.Lock()
	if d.conn != lc {
		d.mu.Unlock()
		return
	}
	d.conn, d.connErr = nil, cause
	closeNow := d.retireLocked(lc)
	d.mu.Unlock()
	d.logger.Warn("libvirt connection lost; reconnecting", "seq", lc.seq, "error", cause)
	if closeNow {
		go closeConn(lc, d)
	}
	select {
	case d.broken <- struct{}{}:
	default:
	}
}

// reconnectLoop opens a new connection, with backoff, whenever the live one is
// lost, and asks the watcher to resync once it is back.
func (d *Driver) reconnectLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-d.broken:
		}
		backoff := reconnectMin
		for attempt := 1; ; attempt++ {
			lc, err := d.dial(d.cfg.ConnectTimeout, d.stop)
			if err == nil {
				d.mu.Lock()
				closed := d.closed
				if !closed {
					d.conn, d.connErr = lc, nil
				}
				d.mu.Unlock()
				if closed {
					closeConn(lc, d)
					return
				}
				d.logger.Info("libvirt connection restored", "seq", lc.seq, "attempts", attempt)
				d.requestResync()
				break
			}
			if errors.Is(err, ErrClosed) {
				return
			}
			d.mu.Lock()
			d.connErr = err
			d.mu.Unlock()
			d.logger.Debug("reconnect failed", "attempt", attempt, "retry_in", backoff, "error", err)
			select {
			case <-d.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, reconnectMax)
		}
	}
}

// call runs fn on the live connection, one call at a time (see maxInFlight).
// fn runs in its own goroutine so that ctx bounds the caller's wait even when
// libvirt does not answer: libvirt calls cannot be interrupted, so an abandoned
// call still finishes (or fails when the keepalive gives up) in the
// background. An error that shows the connection is gone retires it, starts
// the reconnect and comes back wrapping ErrDisconnected.
func (d *Driver) call(ctx context.Context, fn func(c *golibvirt.Connect) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lc, err := d.acquire()
	if err != nil {
		return err
	}
	select {
	case lc.slots <- struct{}{}:
	case <-ctx.Done():
		d.release(lc)
		return fmt.Errorf("libvirt on %s is busy or not answering (waited for the call in flight): %w", d.cfg.URI, ctx.Err())
	}
	done := make(chan error, 1)
	go func() {
		defer d.release(lc)
		defer func() { <-lc.slots }()
		err := fn(lc.c)
		if err != nil && connectionLost(lc.c, err) {
			d.markBroken(lc, err)
			err = fmt.Errorf("%w: %s: %w", ErrDisconnected, d.cfg.URI, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("libvirt call on %s abandoned: %w", d.cfg.URI, ctx.Err())
	}
}

// connectionLost reports whether err (from a call on c) means the connection is
// gone rather than that the call itself failed.
func connectionLost(c *golibvirt.Connect, err error) bool {
	var le golibvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	switch le.Code {
	case golibvirt.ERR_NO_CONNECT, golibvirt.ERR_INVALID_CONN:
		return true
	}
	if le.Domain == golibvirt.FROM_RPC && (le.Code == golibvirt.ERR_SYSTEM_ERROR || le.Code == golibvirt.ERR_INTERNAL_ERROR) {
		return true
	}
	alive, aerr := c.IsAlive()
	return aerr == nil && !alive
}
