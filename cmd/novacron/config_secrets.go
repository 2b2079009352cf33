package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Secrets reach the agent from files or the environment, not from its command
// line, which every user of the host reads in ps and /proc/PID/cmdline. A
// secret flag on the command line is refused, except with --dev, where it is
// accepted with a warning (issue 11).

// secretFlag is a flag whose value is a secret, and the flag that names a file
// holding it instead.
type secretFlag struct {
	flag, file string
}

// secretFlags are the agent's secret flags.
var secretFlags = []secretFlag{
	{flag: "bootstrap-token", file: "bootstrap-token-file"},
	{flag: "gossip-key", file: "gossip-key-file"},
	{flag: "postgres-dsn", file: "postgres-dsn-file"},
}

// registerSecretFiles declares the secret flags added beside the older ones
// (--bootstrap-token-file is registered with --bootstrap-token).
func (f *agentFlags) registerSecretFiles(fs *pflag.FlagSet) {
	fs.StringVar(&f.GossipKeyFile, "gossip-key-file", "", "file holding the base64 gossip key")
	fs.StringVar(&f.MetricsFile, "metrics-token-file", "", "file holding the bearer token GET /metrics requires (default: /metrics is open)")
	fs.StringVar(&f.PostgresDSN, "postgres-dsn", "", "PostgreSQL to keep the long-term record in (postgres://user:pass@host/db); optional: the cluster never needs it")
	fs.StringVar(&f.PostgresFile, "postgres-dsn-file", "", "file holding --postgres-dsn (it holds a password)")
}

// noteCommandLineSecrets records which secret flags the command line itself
// set, before the environment and the config file fill in the rest.
func (f *agentFlags) noteCommandLineSecrets(fs *pflag.FlagSet) {
	f.cliSecrets = nil
	for _, s := range secretFlags {
		if fs.Changed(s.flag) {
			f.cliSecrets = append(f.cliSecrets, s.flag)
		}
	}
}

// checkSecrets refuses (or, with --dev, warns about) secrets given on the
// command line, and reads the secret files.
func (f *agentFlags) checkSecrets() []error {
	var errs []error
	for _, name := range f.cliSecrets {
		msg := fmt.Sprintf("--%s on the command line is visible to every user of this host (ps, /proc/PID/cmdline); give it with --%s FILE, as %s in the environment, or in the --config file",
			name, fileFlagOf(name), envName(name))
		if f.Dev {
			f.warnings = append(f.warnings, msg)
		} else {
			errs = append(errs, errors.New(msg+" (the command line takes it only with --dev)"))
		}
	}
	if err := f.readSecretFile("bootstrap-token", "bootstrap-token-file", f.BootstrapFile, &f.BootstrapToken); err != nil {
		errs = append(errs, err)
	}
	if err := f.readSecretFile("gossip-key", "gossip-key-file", f.GossipKeyFile, &f.GossipKey); err != nil {
		errs = append(errs, err)
	}
	if err := f.readSecretFile("postgres-dsn", "postgres-dsn-file", f.PostgresFile, &f.PostgresDSN); err != nil {
		errs = append(errs, err)
	}
	if f.MetricsFile != "" {
		if err := f.readSecretFile("", "metrics-token-file", f.MetricsFile, &f.MetricsToken); err != nil {
			errs = append(errs, err)
		} else if len(f.MetricsToken) < 16 {
			errs = append(errs, fmt.Errorf("--metrics-token-file %s: the token must be at least 16 characters", f.MetricsFile))
		}
	}
	return errs
}

// fileFlagOf is the file flag of a secret flag.
func fileFlagOf(flag string) string {
	for _, s := range secretFlags {
		if s.flag == flag {
			return s.file
		}
	}
	return flag + "-file"
}

// readSecretFile sets *value from the file named by the file flag (path),
// trimmed; flag, when not empty, is the flag that gives the value directly,
// which may not be given too.
func (f *agentFlags) readSecretFile(flag, fileFlag, path string, value *string) error {
	if path == "" {
		return nil
	}
	if flag != "" && *value != "" {
		return fmt.Errorf("give --%s or --%s, not both", flag, fileFlag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", fileFlag, err)
	}
	f.warnIfOthersCanRead("--"+fileFlag, path)
	*value = strings.TrimSpace(string(b))
	if *value == "" {
		return fmt.Errorf("--%s %s is empty", fileFlag, path)
	}
	return nil
}

// warnIfOthersCanRead adds a warning when the file at path (which holds
// secrets or may) grants group or others any access.
func (f *agentFlags) warnIfOthersCanRead(what, path string) {
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		f.warnings = append(f.warnings, fmt.Sprintf("%s %s has mode %#o: other users of this host can read the secrets in it; chmod 600 it", what, path, mode))
	}
}
