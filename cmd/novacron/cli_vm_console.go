package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// detachKey is Ctrl-], which ends `vm console` (as telnet and virsh do).
const detachKey = 0x1d

// newVMConsoleCommand builds `novacron vm console`: the VM's serial
// console, in raw mode when stdin is a terminal, until Ctrl-] or the end of
// stdin.
func newVMConsoleCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "console ID|NAME",
		Short: "Attach to a running VM's serial console (detach with Ctrl-])",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			con, err := c.Console(ctx, args[0])
			cancel()
			if err != nil {
				return err
			}
			defer con.Close()
			if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				old, err := term.MakeRaw(int(f.Fd()))
				if err != nil {
					return err
				}
				defer term.Restore(int(f.Fd()), old)
				fmt.Fprintf(a.stderr, "Connected to the console of %s. Detach with Ctrl-].\r\n", args[0])
			}
			out := make(chan error, 1)
			go func() { _, err := io.Copy(a.stdout, con); out <- err }()
			in := make(chan error, 1)
			go func() { in <- copyUntilDetach(con, a.stdin) }()
			select {
			case <-in:
			case <-out:
			case <-cmd.Context().Done():
			}
			return nil
		},
	}
}

// copyUntilDetach copies what the user types to the console until Ctrl-]
// or the end of input.
func copyUntilDetach(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			i := bytes.IndexByte(chunk, detachKey)
			if i >= 0 {
				chunk = chunk[:i]
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return werr
			}
			if i >= 0 {
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// newVMLogsCommand builds `novacron vm logs`: the VM's serial log, and
// with -f what it prints next, until interrupted.
func newVMLogsCommand(a *app) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID|NAME",
		Short: "Print a VM's serial console log (-f follows it)",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var offset int64
			for {
				b, size, err := c.ConsoleLog(cmd.Context(), args[0], offset)
				if err != nil {
					if cmd.Context().Err() != nil {
						return nil
					}
					return err
				}
				if size < offset {
					offset = 0 // a new log (the VM started again on another host)
					continue
				}
				if _, err := a.stdout.Write(b); err != nil {
					return err
				}
				offset += int64(len(b))
				if offset < size {
					continue // more than one read's worth
				}
				if !follow {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(a.pollInterval):
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the console shows next, until interrupted")
	return cmd
}
