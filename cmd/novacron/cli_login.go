package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/novacron/novacron/api/client"
)

// A login's session is kept in the user's config folder (0600): later
// commands given no --token (or NOVACRON_TOKEN) use it, at the address it
// was made with unless --address (or NOVACRON_ADDR) says otherwise.

// savedSession is the file `novacron login` writes.
type savedSession struct {
	Address   string    `json:"address"`
	CACert    string    `json:"cacert,omitempty"`
	User      string    `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// envConfigDir overrides where the session file lives (tests; several
// identities on one account).
const envConfigDir = "NOVACRON_CONFIG_DIR"

// sessionPath is the session file's path.
func (a *app) sessionPath() (string, error) {
	dir := a.getenv(envConfigDir)
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("finding the config folder for the session: %w (set %s)", err, envConfigDir)
		}
		dir = filepath.Join(base, "novacron")
	}
	return filepath.Join(dir, "session.json"), nil
}

// loadSession reads the saved session, if any.
func (a *app) loadSession() (*savedSession, error) {
	path, err := a.sessionPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s savedSession
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it and log in again)", path, err)
	}
	return &s, nil
}

func (a *app) saveSession(s savedSession) (string, error) {
	path, err := a.sessionPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

func newLoginCommand(a *app) *cobra.Command {
	var user string
	var fromStdin, useOIDC bool
	cmd := &cobra.Command{
		Use:   "login --user NAME | --oidc",
		Short: "Log in with a user's password, or through the identity provider; later commands use the session",
		Long: `Log in as a user: the password is asked on the terminal (or read from standard
input with --password-stdin), the session token is kept in the config folder
(~/.config/novacron/session.json, readable by you only) and used by later
commands that are given no --token. Failed logins are held back after a few
tries, for longer each time.

With --oidc, log in through the cluster's OpenID Connect provider (agents
started with --oidc-issuer): the CLI prints an address and a code, you
approve the login there (in any browser), and the session acts with the
roles your groups are bound to in projects (group:NAME members).`,
		Example: `  novacron --address https://10.0.0.1:8090 login --user alice
  printf '%s\n' "$PASSWORD" | novacron login --user ci --password-stdin
  novacron login --oidc`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (user == "") == !useOIDC {
				return usagef("give --user NAME (a password login) or --oidc, not both")
			}
			c, err := a.clientAt(a.address)
			if err != nil {
				return err
			}
			var l *client.Login
			if useOIDC {
				l, err = a.loginOIDC(cmd.Context(), c)
			} else {
				var pw string
				if pw, err = a.readPassword(fromStdin); err != nil {
					return err
				}
				l, err = c.Login(cmd.Context(), user, pw)
			}
			if err != nil {
				return err
			}
			path, err := a.saveSession(savedSession{Address: a.address, CACert: a.tls.CA, User: l.User, Token: l.Token, ExpiresAt: l.ExpiresAt})
			if err != nil {
				return fmt.Errorf("logged in, but keeping the session failed: %w", err)
			}
			if a.json() {
				return a.printData(map[string]any{"user": l.User, "role": l.Role, "expires_at": l.ExpiresAt, "session_file": path})
			}
			role := l.Role
			if role == "" {
				role = "none in the cluster; novacron whoami lists your projects"
			}
			printf(a.stdout, "Logged in as %s (role %s) at %s; the session is in %s.\n", l.User, role, a.address, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user to log in as")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input, for scripts")
	cmd.Flags().BoolVar(&useOIDC, "oidc", false, "log in through the cluster's OIDC provider (device flow)")
	return cmd
}

// readPassword reads a password: without echo on a terminal, else one line
// of standard input (with --password-stdin).
func (a *app) readPassword(fromStdin bool) (string, error) {
	if !fromStdin {
		f, ok := a.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return "", usagef("no terminal to ask the password on: pass --password-stdin and write it to standard input")
		}
		fmt.Fprint(a.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("--password-stdin: standard input holds no password")
	}
	return pw, nil
}

func newLogoutCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the saved login session and forget it",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.loadSession()
			if err != nil {
				return err
			}
			if s == nil {
				return errors.New("not logged in: no saved session")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			// A session that already ended (expired, revoked) is forgotten too.
			if err := c.Logout(cmd.Context()); err != nil && client.ErrorCode(err) != client.CodeUnauthenticated {
				return err
			}
			path, _ := a.sessionPath()
			if err := os.Remove(path); err != nil {
				return err
			}
			printf(a.stdout, "Logged out %s.\n", s.User)
			return nil
		},
	}
}
