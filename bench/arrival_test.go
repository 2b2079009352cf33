package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// arrivalConn is a client's TCP connection that records when the kernel
// received the data each read returns (SO_TIMESTAMPNS: the stamp of the
// newest packet read).
//
// Why: the event-latency benchmark's 1,000 readers share 2 cores with the
// agents they measure, and a reader goroutine may wait milliseconds for a
// CPU after its frame has arrived; on a real network the subscribers run
// elsewhere and that wait is not the node's. The kernel's stamp is taken
// when the node's write reaches the reader's socket, whoever runs next. A
// read that returns several frames stamps them all with its newest packet:
// an upper bound for the older ones.
type arrivalConn struct {
	*net.TCPConn
	raw  syscall.RawConn
	oob  []byte
	last atomic.Int64 // UnixNano of the newest packet read; 0 before any
}

// dialArrival dials a TCP connection with receive stamps on.
func dialArrival(ctx context.Context, network, addr string) (*arrivalConn, error) {
	c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	raw, err := tc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		c.Close()
		return nil, errors.Join(err, serr)
	}
	return &arrivalConn{TCPConn: tc, raw: raw, oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))}, nil
}

// Read reads with recvmsg, keeping the receive stamp.
func (c *arrivalConn) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, c.oob, 0)
		return rerr != unix.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				c.last.Store(ts.Nano())
			}
		}
	}
	return n, nil
}

// arrived is when the newest data read arrived, or now when the kernel
// gave no stamp.
func (c *arrivalConn) arrived() time.Time {
	if ns := c.last.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}

// arrivalClient is a client of its own (one connection) like hc, whose
// connection records arrivals; conn is set once it dials.
func arrivalClient(hc *http.Client) (*http.Client, *atomic.Pointer[arrivalConn]) {
	var conn atomic.Pointer[arrivalConn]
	tr := hc.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialArrival(ctx, network, addr)
		if err == nil {
			conn.Store(c)
		}
		return c, err
	}
	return &http.Client{Transport: tr}, &conn
}
