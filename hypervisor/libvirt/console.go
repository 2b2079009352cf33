package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// OpenConsole attaches to a running domain's serial console (libvirt's
// console stream, on a connection of its own that closes with it). Another
// client attached to the same console is taken over (FORCE), as `virsh
// console --force` does: the last to attach types.
func (d *Driver) OpenConsole(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	c, err := d.dialOwn(ctx, d.cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hypervisor.ErrUnavailable, err)
	}
	dom, m, err := d.lookup(c, id)
	if err != nil {
		c.Close()
		return nil, err
	}
	defer dom.Free()
	if active, err := dom.IsActive(); err != nil || !active {
		c.Close()
		return nil, fmt.Errorf("%w: vm %q is not running: it has no console", ErrState, m.Name)
	}
	st, err := c.NewStream(0)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("console stream of domain %s: %w", m.ID, err)
	}
	if err := dom.OpenConsole("", st, golibvirt.DOMAIN_CONSOLE_FORCE); err != nil {
		st.Free()
		c.Close()
		return nil, fmt.Errorf("open the console of domain %s: %w", m.ID, err)
	}
	return &console{c: c, st: st}, nil
}

// console is an open serial console stream. Close may come while another
// goroutine is blocked in Read (a WebSocket's two directions), so the
// stream is freed only once no call is inside it: freeing it under a
// blocked Recv is a use after free in libvirt.
type console struct {
	c  *golibvirt.Connect
	st *golibvirt.Stream

	mu     sync.Mutex
	closed bool
	busy   sync.WaitGroup
	once   sync.Once
}

// consoleCloseWait bounds how long Close waits for a call inside the
// stream to return after the abort; past it the stream is left unfreed
// (a leak, never a use after free).
const consoleCloseWait = 5 * time.Second

// enter marks a call inside the stream; false once the console is closed.
func (s *console) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.busy.Add(1)
	return true
}

func (s *console) Read(p []byte) (int, error) {
	if !s.enter() {
		return 0, io.ErrClosedPipe
	}
	defer s.busy.Done()
	n, err := s.st.Recv(p)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF // the guest's console closed (domain stopped)
	}
	return n, nil
}

func (s *console) Write(p []byte) (int, error) {
	if !s.enter() {
		return 0, io.ErrClosedPipe
	}
	defer s.busy.Done()
	written := 0
	for written < len(p) {
		n, err := s.st.Send(p[written:])
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// Close aborts the stream (a blocked Read returns), waits for the calls
// inside it to leave, then frees it and hangs up.
func (s *console) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.st.Abort()
		left := make(chan struct{})
		go func() { s.busy.Wait(); close(left) }()
		select {
		case <-left:
			s.st.Free()
			s.c.Close()
		case <-time.After(consoleCloseWait):
		}
	})
	return nil
}

// ConsoleLog opens the serial log libvirt (virtlogd) keeps of a managed
// domain, read where this agent sees it (Config.ConsoleLogReadDir).
func (d *Driver) ConsoleLog(ctx context.Context, id string) (*os.File, error) {
	dir := d.cfg.ConsoleLogReadDir
	if dir == "" {
		dir = d.cfg.ConsoleLogDir
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: this host keeps no console logs", hypervisor.ErrNotFound)
	}
	var name string
	err := d.onDomain(ctx, id, func(_ *golibvirt.Domain, m vmMeta, _ golibvirt.DomainState, _ int) error {
		name = domainName(m.ID, m.Name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, name+"-serial.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no console log of vm %s yet", hypervisor.ErrNotFound, id)
	}
	return f, err
}
