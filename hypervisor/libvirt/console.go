package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

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

// console is an open serial console stream.
type console struct {
	c    *golibvirt.Connect
	st   *golibvirt.Stream
	once sync.Once
}

func (s *console) Read(p []byte) (int, error) {
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

// Close aborts the stream (a blocked Read returns) and hangs up.
func (s *console) Close() error {
	s.once.Do(func() {
		s.st.Abort()
		s.st.Free()
		s.c.Close()
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
