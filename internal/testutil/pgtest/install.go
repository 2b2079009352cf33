package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// BinDirEnv names the environment variable that points at the directory of
// initdb and postgres, for a machine where they are neither in the Debian
// place nor on PATH.
const BinDirEnv = "PGTEST_BINDIR"

// minMajor is the oldest PostgreSQL the exporter supports: date_bin, which
// its metric queries bucket with, came in 14. CI runs 15.
const minMajor = 14

// errNotInstalled says that no usable PostgreSQL was found; Start skips on
// it (or fails, under CI).
var errNotInstalled = errors.New("PostgreSQL is not installed")

// installHint is what to do about errNotInstalled.
const installHint = "install the Debian package postgresql (apt-get install -y postgresql)"

// binaries is one PostgreSQL installation.
type binaries struct {
	dir   string // holds initdb and postgres
	major int
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

// findBinaries looks for initdb and postgres: in $PGTEST_BINDIR, else the
// newest /usr/lib/postgresql/N/bin (where Debian puts them, off PATH), else
// on PATH.
func findBinaries() (binaries, error) {
	var dirs []string
	if d := os.Getenv(BinDirEnv); d != "" {
		dirs = append(dirs, d)
	} else {
		debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(debian, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, debian...)
		if p, err := exec.LookPath("initdb"); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	var why []string
	for _, d := range dirs {
		b := binaries{dir: d}
		if !executable(b.path("initdb")) || !executable(b.path("postgres")) {
			why = append(why, d+" lacks initdb or postgres")
			continue
		}
		major, err := majorVersion(b.path("postgres"))
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if major < minMajor {
			why = append(why, fmt.Sprintf("%s is PostgreSQL %d, older than %d", d, major, minMajor))
			continue
		}
		b.major = major
		return b, nil
	}
	if len(why) == 0 {
		why = append(why, "no initdb in /usr/lib/postgresql/*/bin, on PATH or in $"+BinDirEnv)
	}
	return binaries{}, fmt.Errorf("%w (%v); %s", errNotInstalled, why, installHint)
}

// versionOf reads N from /usr/lib/postgresql/N/bin (0 when it is not a number).
func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// majorVersion asks postgres itself, since a bin dir on PATH says nothing.
func majorVersion(postgres string) (int, error) {
	out, err := exec.Command(postgres, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %v", postgres, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s --version said %q", postgres, out)
	}
	return strconv.Atoi(string(m[1]))
}

// skipOrFatal ends a test that cannot have its server: skipped on a
// developer's machine without PostgreSQL, failed under CI (CI=true), where a
// missing package means a broken CI image and a skip would hide it.
func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("pgtest: %v (CI=true, so this fails instead of skipping; %s)", err, installHint)
	}
	tb.Skipf("pgtest: %v", err)
}
