package hypervisor

import (
	"fmt"
	"strings"
)

// Compression methods MigrateOptions.Compression may name. zlib and zstd
// compress multifd channels, so they need Parallel > 1 (and libvirt 9.4 or
// newer; an older libvirt refuses them and Migrate says so).
var compressionMethods = map[string]bool{"xbzrle": true, "zlib": true, "zstd": true}

// Check refuses options no migration could use, whatever the driver: every
// driver's Migrate calls it with its own URI as self. The error wraps
// ErrInvalidSpec and names the field.
func (o MigrateOptions) Check(self string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: migrate options: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(o.DestURI) == "":
		return bad("DestURI is empty")
	case o.DestURI == self:
		return bad("DestURI %q is this driver's own host", o.DestURI)
	case o.MigrateURI != "" && !strings.Contains(o.MigrateURI, ":"):
		return bad("MigrateURI %q is not a URI such as tcp://10.0.0.2", o.MigrateURI)
	case o.MaxDowntime < 0:
		return bad("MaxDowntime %s is negative", o.MaxDowntime)
	case o.Parallel < 0:
		return bad("Parallel %d is negative", o.Parallel)
	case o.PostCopy && !o.Live:
		return bad("PostCopy needs Live: a warm migration has no post-copy phase")
	case o.Compression != "" && !compressionMethods[o.Compression]:
		return bad("Compression %q is not one of xbzrle, zlib, zstd", o.Compression)
	case (o.Compression == "zlib" || o.Compression == "zstd") && o.Parallel < 2:
		return bad("Compression %q compresses parallel connections: it needs Parallel > 1, have %d", o.Compression, o.Parallel)
	}
	return nil
}
