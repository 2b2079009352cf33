package libvirt

import (
	"context"
	"fmt"
	"strings"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// dialOwn opens a connection of its own to uri, with keepalive and without
// the driver's event callbacks, for a caller that runs one call at a time on
// it: libvirt 9.0's crash with several calls waiting on a dying connection
// (see maxInFlight) cannot happen there, and the call never waits behind the
// driver's main connection. The caller closes it.
//
// It gives up after Config.ConnectTimeout or when ctx ends, closing a
// connection that arrives later (virConnectOpen cannot be interrupted). A host
// that cannot be reached comes back wrapping hypervisor.ErrUnavailable.
func (d *Driver) dialOwn(ctx context.Context, uri string) (*golibvirt.Connect, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		c   *golibvirt.Connect
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := golibvirt.NewConnect(uri)
		ch <- result{c, err}
	}()
	abandon := func() {
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
	}
	timer := time.NewTimer(d.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w: connect to %s: %w", hypervisor.ErrUnavailable, uri, r.err)
		}
		if err := r.c.SetKeepAlive(keepAliveInterval, keepAliveCount); err != nil {
			d.logger.Debug("keepalive not available", "uri", uri, "error", err)
		}
		return r.c, nil
	case <-timer.C:
		abandon()
		return nil, fmt.Errorf("%w: connect to %s: no answer within %s", hypervisor.ErrUnavailable, uri, d.cfg.ConnectTimeout)
	case <-ctx.Done():
		abandon()
		return nil, fmt.Errorf("connect to %s: %w", uri, ctx.Err())
	}
}

// onShort runs fn on a connection of its own to uri (see dialOwn), closed
// after it. fn runs in its own goroutine so that ctx bounds the wait; an
// abandoned fn finishes in the background (keepalive bounds it when the daemon
// stops answering) and closes the connection then. A connection that breaks
// during fn comes back wrapping hypervisor.ErrUnavailable.
func (d *Driver) onShort(ctx context.Context, uri string, fn func(c *golibvirt.Connect) error) error {
	c, err := d.dialOwn(ctx, uri)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer c.Close()
		err := fn(c)
		if err != nil && connectionLost(c, err) {
			err = fmt.Errorf("%w: connection to %s lost: %w", hypervisor.ErrUnavailable, uri, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("libvirt call on %s abandoned: %w", uri, ctx.Err())
	}
}

// lookupOn returns the managed domain id on c, which may be another host's
// connection: unlike lookup, it leaves this driver's own bookkeeping alone.
// The caller frees dom.
func (d *Driver) lookupOn(c *golibvirt.Connect, uri, id string) (*golibvirt.Domain, vmMeta, error) {
	notFound := fmt.Errorf("%w: no managed domain %q on %s", hypervisor.ErrNotFound, id, uri)
	if !uuidRE.MatchString(id) {
		return nil, vmMeta{}, notFound
	}
	dom, err := c.LookupDomainByUUIDString(strings.ToLower(id))
	if libvirtCode(err) == golibvirt.ERR_NO_DOMAIN {
		return nil, vmMeta{}, notFound
	}
	if err != nil {
		return nil, vmMeta{}, fmt.Errorf("look up domain %s on %s: %w", id, uri, err)
	}
	m, managed, err := d.readMeta(dom)
	if err != nil || !managed {
		dom.Free()
		if err == nil {
			err = notFound
		}
		return nil, vmMeta{}, err
	}
	return dom, m, nil
}

// InspectRemote looks managed domain id up on the libvirt at uri (another
// host) through a short-lived connection: its state and the generation its
// metadata carries. It returns hypervisor.ErrNotFound when that host has no
// such managed domain, and an error wrapping hypervisor.ErrUnavailable when
// the host cannot be reached. A domain stopped on request reads stopped there
// too, since the request is recorded in its definition.
func (d *Driver) InspectRemote(ctx context.Context, uri, id string) (hypervisor.Domain, error) {
	var out hypervisor.Domain
	err := d.onShort(ctx, uri, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, uri, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		out, _, err = describe(dom, m, m.StopRequested)
		return err
	})
	return out, err
}

// completedOn reads the completed job statistics of domain id on the host at
// uri: the destination of a migration keeps the job's final figures (the
// source sends them along) until the domain's next job.
func (d *Driver) completedOn(ctx context.Context, uri, id string) (*golibvirt.DomainJobInfo, error) {
	var info *golibvirt.DomainJobInfo
	err := d.onShort(ctx, uri, func(c *golibvirt.Connect) error {
		dom, _, err := d.lookupOn(c, uri, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		info, err = dom.GetJobStats(golibvirt.DOMAIN_JOB_STATS_COMPLETED)
		if err != nil {
			return fmt.Errorf("read completed job stats of domain %s on %s: %w", id, uri, err)
		}
		if info.Type != golibvirt.DOMAIN_JOB_COMPLETED {
			return fmt.Errorf("domain %s on %s has no completed job (job type %d)", id, uri, info.Type)
		}
		return nil
	})
	return info, err
}
