package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// newOperatorCommand builds `novacron operator`: cluster-wide operations for
// admins. Today: the gossip encryption keyring.
func newOperatorCommand(a *app) *cobra.Command {
	gossip := newGroupCommand("gossip", "Gossip encryption: make keys, rotate the cluster's keyring",
		newKeygenCommand(a), newKeyringCommand(a))
	return newGroupCommand("operator", "Cluster-wide operations for admins", gossip)
}

func newKeygenCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random gossip key (32 bytes, base64)",
		Long: `Print a new random gossip key: 32 bytes (AES-256) in base64. It is a secret:
write it to a file only root can read, for --gossip-key-file, or install it
with 'novacron operator gossip keyring install -'. Nothing is sent anywhere.`,
		Example: `  (umask 077; novacron operator gossip keygen > /etc/novacron/gossip-key)`,
		Args:    exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return fmt.Errorf("no randomness: %w", err)
			}
			key := base64.StdEncoding.EncodeToString(b)
			if a.json() {
				return a.printData(map[string]string{"key": key})
			}
			fmt.Fprintln(a.stdout, key)
			return nil
		},
	}
}

func newKeyringCommand(a *app) *cobra.Command {
	cmd := newGroupCommand("keyring", "List and rotate the cluster's gossip keys (needs an admin token)",
		newKeyringListCommand(a),
		newKeyringOpCommand(a, client.KeyringInstall, "Install a key on every node, beside the ones in use",
			"Every node accepts gossip encrypted with it from now on, but still encrypts with the primary key."),
		newKeyringOpCommand(a, client.KeyringUse, "Make an installed key the primary key, which every node encrypts with",
			"Refused while an alive node does not hold the key yet: wait until 'list' shows it on every node."),
		newKeyringOpCommand(a, client.KeyringRemove, "Remove a key that is not the primary key",
			"Refused while an alive node still encrypts with it. A node that was down comes back with its old keys\nand gets the new ones through Raft, then rejoins gossip."),
	)
	cmd.Long = `The cluster's gossip keyring: the keys the nodes accept and the primary one
they encrypt with. It lives in the replicated state, so a node that was down
during a rotation catches up when it comes back. Rotating the key, with no
downtime:

  novacron operator gossip keygen > new-key          # keep it secret (umask 077)
  novacron operator gossip keyring install - --wait < new-key
  novacron operator gossip keyring use - --wait < new-key
  novacron operator gossip keyring remove OLD-FINGERPRINT --wait

KEY is the base64 key itself (it is a secret: the command line shows it in ps
and in the shell's history, as Consul's keyring command does), or - to read it
from standard input. 'use' and 'remove' also take a key's fingerprint, as
'list' shows it.`
	return cmd
}

func newKeyringListCommand(a *app) *cobra.Command {
	var showKeys bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the gossip keys and how many alive nodes hold each",
		Long: `List the gossip keys: each key's fingerprint, whether it is the primary key,
how many alive nodes hold it and which do not. The keys themselves are shown
only with --show-keys (and in -o json).`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			kr, err := c.GossipKeyring(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(kr)
			}
			return a.printKeyring(kr, showKeys)
		},
	}
	cmd.Flags().BoolVar(&showKeys, "show-keys", false, "also print the keys themselves (secrets)")
	return cmd
}

func newKeyringOpCommand(a *app, op, short, long string) *cobra.Command {
	var wait bool
	var timeout time.Duration
	use, keyHelp := "KEY", "KEY is the base64 key, or - to read it from standard input."
	if op != client.KeyringInstall {
		use, keyHelp = "KEY|FINGERPRINT", "KEY is the base64 key, - to read it from standard input, or its fingerprint as 'list' shows it."
	}
	cmd := &cobra.Command{
		Use:   op + " " + use + "|-",
		Short: short,
		Long:  short + ".\n" + long + "\n\n" + keyHelp,
		Args:  exactArgs(use),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			key, err := a.keyArg(ctx, c, args[0], op != client.KeyringInstall)
			if err != nil {
				return err
			}
			kr, err := c.ChangeGossipKeyring(ctx, client.GossipKeyringRequest{Op: op, Key: key})
			if err != nil {
				return err
			}
			fp := fsm.KeyFingerprintOf(strings.TrimSpace(key))
			if wait {
				if kr, err = a.waitKeyring(ctx, c, op, fp, timeout); err != nil {
					return err
				}
			}
			if a.json() {
				return a.printData(kr)
			}
			switch op {
			case client.KeyringInstall:
				printf(a.stdout, "Installed gossip key %s.\n", orDash(fp))
			case client.KeyringUse:
				printf(a.stdout, "Gossip key %s is the primary key.\n", orDash(fp))
			case client.KeyringRemove:
				printf(a.stdout, "Removed gossip key %s.\n", orDash(fp))
			}
			return a.printKeyring(kr, false)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every alive node has applied the change")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long --wait waits")
	return cmd
}

// fingerprintPattern is how a key's fingerprint reads; a key is longer.
var fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)

// keyArg turns the KEY argument into a key: "-" reads the first line of
// standard input; with byFingerprint, a fingerprint names a key the keyring
// lists.
func (a *app) keyArg(ctx context.Context, c *client.Client, arg string, byFingerprint bool) (string, error) {
	switch {
	case arg == "-":
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the key from standard input: %w", err)
		}
		if key := strings.TrimSpace(line); key != "" {
			return key, nil
		}
		return "", usagef("no key on standard input")
	case byFingerprint && fingerprintPattern.MatchString(arg):
		kr, err := c.GossipKeyring(ctx)
		if err != nil {
			return "", err
		}
		for _, k := range kr.Keys {
			if k.Fingerprint == arg {
				return k.Key, nil
			}
		}
		return "", fmt.Errorf("no gossip key has fingerprint %s ('novacron operator gossip keyring list' shows them)", arg)
	}
	return arg, nil
}

// waitKeyring polls until every alive node has applied op: holds the
// installed key, encrypts with the new primary, or no longer holds the
// removed key (as the members publish it).
func (a *app) waitKeyring(ctx context.Context, c *client.Client, op, fp string, timeout time.Duration) (*client.GossipKeyring, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// pending is what the last complete look found: a look cut short by the
	// deadline (a slow answer) still reports it, not a transport error.
	var pending []string
	timedOut := func() error {
		if pending == nil {
			return fmt.Errorf("waited %s: no look at the nodes finished in that time; try a longer --timeout", timeout)
		}
		return fmt.Errorf("waited %s: %s have not applied the change yet", timeout, strings.Join(pending, ", "))
	}
	for {
		kr, err := c.GossipKeyring(ctx)
		if err == nil {
			var now []string
			if now, err = a.keyringPending(ctx, c, kr, op, fp); err == nil {
				if len(now) == 0 {
					return kr, nil
				}
				pending = now
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil, timedOut()
		case err != nil:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, timedOut()
		case <-time.After(a.pollInterval):
		}
	}
}

// keyringPending names the alive nodes that have not applied op yet.
func (a *app) keyringPending(ctx context.Context, c *client.Client, kr *client.GossipKeyring, op, fp string) ([]string, error) {
	if op == client.KeyringRemove {
		cl, err := c.Cluster(ctx)
		if err != nil {
			return nil, err
		}
		var holding []string
		for _, m := range cl.Members {
			if m.Status == "alive" && slices.Contains(m.GossipKeys, fp) {
				holding = append(holding, m.Name)
			}
		}
		return holding, nil
	}
	for _, k := range kr.Keys {
		if k.Fingerprint != fp {
			continue
		}
		if op == client.KeyringInstall {
			return k.Missing, nil
		}
		if len(k.PrimaryOn) == k.Of {
			return nil, nil
		}
		return []string{fmt.Sprintf("%d of %d alive nodes", k.Of-len(k.PrimaryOn), k.Of)}, nil
	}
	return nil, fmt.Errorf("gossip key %s is no longer in the keyring", fp)
}

// printKeyring prints the keyring as a table, the keys themselves only when
// showKeys.
func (a *app) printKeyring(kr *client.GossipKeyring, showKeys bool) error {
	if !kr.Encrypted {
		fmt.Fprintln(a.stdout, "Gossip is not encrypted: the nodes started without a gossip key, so there is no keyring to rotate.")
		return nil
	}
	printf(a.stdout, "Gossip is encrypted; primary key %s.\n", kr.Primary)
	headers := []string{"FINGERPRINT", "PRIMARY", "NODES", "MISSING"}
	if showKeys {
		headers = append(headers, "KEY")
	}
	t := newTable(a.stdout, headers...)
	for _, k := range kr.Keys {
		primary := "no"
		if k.Primary {
			primary = "yes"
		}
		row := []string{k.Fingerprint, primary, fmt.Sprintf("%d/%d", k.Nodes, k.Of), strings.Join(k.Missing, ",")}
		if showKeys {
			row = append(row, k.Key)
		}
		t.row(row...)
	}
	return t.flush()
}
