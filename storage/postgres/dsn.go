package postgres

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxDSNFile bounds a DSN file: a DSN is one line, and a wrong path (a log,
// an image) must not be read whole.
const maxDSNFile = 64 << 10

// ReadDSNFile reads a DSN from a file (the agent's --postgres-dsn-file), so
// that the password stays off the command line, where every user of the
// host sees it in ps. The file's content is trimmed of surrounding space. A
// file that every user may read is refused (ErrInsecureDSNFile) for the same
// reason; mode 0600 or 0640 is what it wants.
func ReadDSNFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("postgres: DSN file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("postgres: DSN file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file", ErrInvalidDSN, path)
	}
	if perm := fi.Mode().Perm(); perm&0o004 != 0 {
		return "", fmt.Errorf("%w: %s has mode %04o and holds a password; chmod 600 %s", ErrInsecureDSNFile, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDSNFile+1))
	if err != nil {
		return "", fmt.Errorf("postgres: DSN file: %w", err)
	}
	if len(b) > maxDSNFile {
		return "", fmt.Errorf("%w: %s is larger than %d bytes; it should hold one DSN", ErrInvalidDSN, path, maxDSNFile)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrInvalidDSN, path)
	}
	return dsn, nil
}
