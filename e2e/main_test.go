package e2e

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/novacron/novacron/internal/testutil"
)

// novacronBin is the binary TestMain built, "" under -short.
var novacronBin string

// TestMain builds the real binary once for the whole package, with the same
// build tags as `make build`, before any test's clock runs.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	bin, err := testutil.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the novacron binary failed:", err)
		os.Exit(1)
	}
	novacronBin = bin
	code := m.Run()
	testutil.RemoveBinary()
	removeTestPKI()
	os.Exit(code)
}

// requireBinary skips the test under -short and otherwise makes sure the binary
// exists.
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: starts real agent processes and clusters; skipped with -short")
	}
	if novacronBin == "" {
		t.Fatal("e2e: the novacron binary was not built")
	}
}

// runCLI runs `novacron args...` against addr (https://host:port) with token,
// given through NOVACRON_ADDR and NOVACRON_TOKEN as a user's shell would, and
// the e2e CA through NOVACRON_CACERT.
func runCLI(t *testing.T, addr, token string, args ...string) testutil.CLIResult {
	t.Helper()
	return testutil.RunCLI(t, novacronBin, testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_TOKEN="+token, "NOVACRON_CACERT="+testCAFile(t)), args...)
}

// runTool runs `novacron args...` with no cluster to talk to (the tls and
// keygen commands) and requires exit 0.
func runTool(t *testing.T, args ...string) testutil.CLIResult {
	t.Helper()
	res := testutil.RunCLI(t, novacronBin, testutil.CleanEnv(), args...)
	if res.Code != 0 {
		t.Fatalf("novacron %s", res)
	}
	return res
}

// cliJSON runs the CLI with -o json, requires exit 0 and decodes stdout into out.
func cliJSON(t *testing.T, addr, token string, out any, args ...string) error {
	t.Helper()
	res := runCLI(t, addr, token, append([]string{"-o", "json"}, args...)...)
	if res.Code != 0 {
		return errors.New(res.String())
	}
	if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
		return fmt.Errorf("stdout of %v is not the expected JSON: %v\n%s", args, err, res.Stdout)
	}
	return nil
}
