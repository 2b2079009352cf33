package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/guard"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/libvirt"
)

// newGuardCommand is `novacron guard`: the fencing guard the agent starts
// beside itself (package guard). It is the only place where the guard meets
// the libvirt driver.
func newGuardCommand() *cobra.Command {
	var (
		leasePath, uri, watchdog, logLevel string
		interval                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "guard --lease FILE --libvirt-uri URI [--watchdog DEV]",
		Short: "Fence this host's HA VMs when the agent's lease ends (started by the agent, not by hand)",
		Long: `Fence this host's HA VMs when the agent's lease with the leader ends, even if
the agent itself is frozen or dead. The agent starts this process in a process
group of its own and shares the lease file FILE with it; do not start it by hand.

Every --interval the guard writes its heartbeat into FILE, which the agent checks.
When the lease deadline in FILE passes, it destroys or pauses the host's HA domains
through its own libvirt connection to URI, and it pets the watchdog device DEV only
while the host is safe. It exits when the agent stops cleanly, when another agent or
guard takes FILE over, or when the agent is dead and its domains are fenced.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if leasePath == "" {
				return usagef("--lease is required")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			return runGuard(cmd.Context(), guard.Config{LeasePath: leasePath, Watchdog: watchdog,
				Interval: interval, Logger: logger}, uri)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&leasePath, "lease", "", "lease file shared with the agent")
	fl.StringVar(&uri, "libvirt-uri", "qemu:///system", "libvirt connection URI of this host")
	fl.StringVar(&watchdog, "watchdog", "", "watchdog device to pet while the host is safe (e.g. /dev/watchdog)")
	fl.DurationVar(&interval, "interval", guard.DefaultConfig().Interval, "heartbeat and check interval")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// runGuard runs the guard until it has a reason to stop; those reasons are a
// clean exit.
func runGuard(ctx context.Context, cfg guard.Config, uri string) error {
	// The guard outlives the agent: a hangup of the agent's terminal, or a
	// broken stderr pipe once the agent's log reader is gone, must not kill it.
	signal.Ignore(syscall.SIGHUP)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if err := libvirt.Available(); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := connectFencer(fctx, libvirt.Config{URI: uri, VirtType: libvirt.VirtQEMU, HostName: "guard",
		NoPathChecks: true, NoConsoleLog: true, Logger: cfg.Logger}, cfg.Logger)
	defer f.close()
	cfg.Fencer = f
	err := guard.Run(ctx, cfg)
	switch {
	case errors.Is(err, guard.ErrDisarmed), errors.Is(err, guard.ErrSuperseded),
		errors.Is(err, guard.ErrOwnerGone), errors.Is(err, context.Canceled):
		return nil
	}
	return err
}

// libvirtFencer is the guard's Fencer: the libvirt driver on connections of
// the guard's own (its Destroy opens one per call, so a fence's destroys run
// side by side). It connects in the background, retrying, so that the guard
// heartbeats from the start even while libvirtd is still starting.
type libvirtFencer struct {
	ready chan struct{}
	d     *libvirt.Driver
}

func connectFencer(ctx context.Context, cfg libvirt.Config, logger *slog.Logger) *libvirtFencer {
	f := &libvirtFencer{ready: make(chan struct{})}
	go func() {
		wait := time.Second
		for {
			d, err := libvirt.New(cfg)
			if err == nil {
				f.d = d
				close(f.ready)
				return
			}
			logger.Warn("guard cannot reach libvirt yet; retrying", "component", "guard", "uri", cfg.URI, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 10*time.Second)
		}
	}()
	return f
}

// driver waits for the connection, up to ctx.
func (f *libvirtFencer) driver(ctx context.Context) (*libvirt.Driver, error) {
	select {
	case <-f.ready:
		return f.d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: the guard has no libvirt connection yet: %w", hypervisor.ErrUnavailable, ctx.Err())
	}
}

func (f *libvirtFencer) Destroy(ctx context.Context, id string) error {
	d, err := f.driver(ctx)
	if err != nil {
		return err
	}
	return d.Destroy(ctx, id)
}

func (f *libvirtFencer) Suspend(ctx context.Context, id string) error {
	d, err := f.driver(ctx)
	if err != nil {
		return err
	}
	return d.Suspend(ctx, id)
}

func (f *libvirtFencer) List(ctx context.Context) ([]hypervisor.Domain, error) {
	d, err := f.driver(ctx)
	if err != nil {
		return nil, err
	}
	return d.List(ctx)
}

func (f *libvirtFencer) close() {
	select {
	case <-f.ready:
		f.d.Close()
	default:
	}
}
