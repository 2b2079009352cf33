// Command novacron is NovaCron's single binary: `novacron agent` runs a cluster
// node, and the other subcommands (cluster, node, vm, image, volume, storage,
// migration, settings, rebalance, token, operator) are the client that talks
// to any node's HTTP API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/version"
)

// Environment variables read by the client subcommands. A flag beats its variable,
// which beats the default.
const (
	envAddress    = "NOVACRON_ADDR"
	envToken      = "NOVACRON_TOKEN"
	envCACert     = "NOVACRON_CACERT"
	envClientCert = "NOVACRON_CLIENT_CERT"
	envClientKey  = "NOVACRON_CLIENT_KEY"
	envProject    = "NOVACRON_PROJECT"
)

// defaultAddress is the API of an agent on this host with its default settings.
const defaultAddress = "https://127.0.0.1:8090"

// Exit codes: 0 success, 1 a failed command, 2 a command used wrongly.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code. Commands
// get ctx as cmd.Context(); main cancels it on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return execute(ctx, newApp(getenv, stdout, stderr), normalizeArgs(args))
}

// normalizeArgs accepts `-dev`, the spelling Consul and Nomad users type, as
// --dev: pflag would otherwise read it as the shorthands -d -e -v.
func normalizeArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-dev" {
			a = "--dev"
		}
		out[i] = a
	}
	return out
}

// app is the state shared by the client subcommands: where they write, the global
// flags once resolved, and the knobs tests shrink.
type app struct {
	stdout, stderr io.Writer
	// stdin is where a command reads a secret given as "-" (a gossip key).
	stdin  io.Reader
	getenv func(string) string

	address string
	// addressGiven: --address or NOVACRON_ADDR was set; otherwise a saved
	// session's address is used.
	addressGiven bool
	token        string
	// project is the project VM commands work in (--project); "" is the
	// default project.
	project string
	output  string
	// wide shows whole IDs in tables (--wide, -o wide).
	wide bool
	// tls is the CA to trust and the client certificate to present, for an
	// agent serving HTTPS (--cacert, --client-cert, --client-key).
	tls pki.Files

	// pollInterval is how often a command that waits looks at a record it
	// waits for (a VM's state), and the least time between two questions
	// about an operation (cli_op_wait.go).
	pollInterval time.Duration
	// opWindow is how long one question about an operation may wait on the
	// server before it answers with the progress.
	opWindow time.Duration
	// terminal is set when stdout is a terminal: progress is redrawn in place
	// there, and written one line per change elsewhere.
	terminal bool
	// interactive is set when both stdin and stdout are terminals: a
	// destructive command may ask there, and needs --force elsewhere.
	interactive bool
}

// newApp returns an app writing to stdout and stderr and reading the environment
// through getenv.
func newApp(getenv func(string) string, stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, stdin: os.Stdin, getenv: getenv, pollInterval: 500 * time.Millisecond,
		opWindow: defaultOpWindow, terminal: isTerminal(stdout), interactive: isTerminal(stdout) && isTerminal(os.Stdin)}
}

// errorText is err as the CLI prints it: an error from the server is safe on
// one line; a local one keeps its line breaks (a usage error may have several).
func errorText(err error) string {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		return safe(err.Error())
	}
	return safeLines(err.Error())
}

// execute runs args against the command tree of a and maps the outcome to an exit
// code, printing the error itself so that every failure reads "Error: ...".
func execute(ctx context.Context, a *app, args []string) int {
	root := newRootCommand(a)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errQuietNo) {
		return exitError // the command printed its answer already
	}
	fmt.Fprintf(a.stderr, "Error: %s\n", errorText(err))
	var uerr *usageError
	if errors.As(err, &uerr) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitError
}

// newRootCommand builds the whole command tree.
func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "novacron",
		Short: "NovaCron runs virtual machines on a cluster of hosts",
		Long: `NovaCron runs virtual machines on a cluster of KVM hosts.

Every host runs 'novacron agent'. The other commands talk to the HTTP API of any
agent: set its address with --address or NOVACRON_ADDR and a token with --token
or NOVACRON_TOKEN.`,
		Version:           version.Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              cobra.ArbitraryArgs,
		RunE:              runGroup,
		PersistentPreRunE: a.resolveGlobals,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.address, "address", defaultAddress, "API address of any agent, or several comma-separated, tried in turn (env "+envAddress+")")
	pf.StringVar(&a.token, "token", "", "API token (env "+envToken+")")
	pf.StringVar(&a.project, "project", "", "project the VM, image and volume commands work in; the default project when empty (env "+envProject+")")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, wide (tables with whole IDs), json or yaml")
	pf.BoolVar(&a.wide, "wide", false, "show whole IDs in tables (they show the first 8 characters, which commands accept as well)")
	pf.StringVar(&a.tls.CA, "cacert", "", "CA certificate to trust for an https:// address (env "+envCACert+")")
	pf.StringVar(&a.tls.Cert, "client-cert", "", "client certificate to present over TLS (env "+envClientCert+")")
	pf.StringVar(&a.tls.Key, "client-key", "", "key of --client-cert (env "+envClientKey+")")

	root.AddCommand(
		newVersionCommand(a),
		newAgentCommand(),
		newClusterCommand(a),
		newNodeCommand(a),
		newVMCommand(a),
		newImageCommand(a),
		newVolumeCommand(a),
		newStorageCommand(a),
		newMigrationCommand(a),
		newOperationCommand(a),
		newFailoverCommand(a),
		newSettingsCommand(a),
		newRebalanceCommand(a),
		newTokenCommand(a),
		newProjectCommand(a),
		newUserCommand(a),
		newRoleCommand(a),
		newAuditCommand(a),
		newEventsCommand(a),
		newAlertCommand(a),
		newLoginCommand(a),
		newLogoutCommand(a),
		newWhoamiCommand(a),
		newAuthCommand(a),
		newGuardCommand(),
		newTLSCommand(a),
		newOperatorCommand(a),
	)
	return root
}

// resolveGlobals applies the environment to the global flags not given on the
// command line and checks --output.
func (a *app) resolveGlobals(cmd *cobra.Command, _ []string) error {
	a.addressGiven = cmd.Flags().Changed("address")
	if !a.addressGiven {
		if v := strings.TrimSpace(a.getenv(envAddress)); v != "" {
			a.address, a.addressGiven = v, true
		}
	}
	if !cmd.Flags().Changed("token") {
		a.token = a.getenv(envToken)
	}
	a.token = strings.TrimSpace(a.token)
	if !cmd.Flags().Changed("project") {
		a.project = strings.TrimSpace(a.getenv(envProject))
	}
	for _, e := range []struct {
		flag, env string
		v         *string
	}{{"cacert", envCACert, &a.tls.CA}, {"client-cert", envClientCert, &a.tls.Cert}, {"client-key", envClientKey, &a.tls.Key}} {
		if !cmd.Flags().Changed(e.flag) {
			*e.v = strings.TrimSpace(a.getenv(e.env))
		}
	}
	if (a.tls.Cert == "") != (a.tls.Key == "") {
		return usagef("--client-cert and --client-key go together (env %s, %s)", envClientCert, envClientKey)
	}
	switch a.output {
	case "table", "json", "yaml":
	case "wide":
		a.output, a.wide = "table", true
	default:
		return usagef("invalid --output %q: want table, wide, json or yaml", a.output)
	}
	return nil
}

// client returns an API client built from the resolved global flags; with
// no token given, from the session `novacron login` saved.
func (a *app) client() (*client.Client, error) {
	if a.token == "" {
		s, err := a.loadSession()
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, errors.New("no API token: set " + envToken + ", pass --token, or log in (novacron login --user NAME)")
		}
		a.token = s.Token
		if !a.addressGiven {
			a.address = s.Address
		}
		if a.tls.CA == "" {
			a.tls.CA = s.CACert
		}
	}
	return a.clientAt(a.address)
}

// clientAt returns an API client for address with the resolved token and TLS
// settings.
func (a *app) clientAt(address string) (*client.Client, error) {
	var opts []client.Option
	if a.tls.Set() {
		cfg, err := pki.ClientConfig(a.tls)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	c, err := client.New(address, a.token, opts...)
	if err != nil {
		return nil, fmt.Errorf("--address: %w", err)
	}
	if a.project != "" {
		c = c.WithProject(a.project)
	}
	return c, nil
}

// json reports whether the user asked for data rather than text: JSON, or
// the same as YAML (printData writes either).
func (a *app) json() bool { return a.output == "json" || a.output == "yaml" }

// usageError is a command line that does not make sense: exit code 2 and a hint
// to read the help, rather than exit code 1.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exactArgs accepts exactly the positional arguments named in names (for the
// message), as a usage error otherwise.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return usagef("%q takes no arguments, got %q", cmd.CommandPath(), args)
		}
		return usagef("%q needs %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
	}
}

// newGroupCommand returns a command that only holds subcommands.
func newGroupCommand(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	cmd.AddCommand(subs...)
	return cmd
}

// runGroup shows the help of a command that holds subcommands, or refuses an
// unknown subcommand as a usage error (cobra would show the help and exit 0).
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return &usageError{err: errors.New(msg)}
}
