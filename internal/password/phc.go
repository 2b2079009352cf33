package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
// Strict refuses non-zero trailing bits, so each salt and key has exactly one
// spelling.
var b64 = base64.RawStdEncoding.Strict()

// maxEncodedLen bounds a stored string before it is split, so that a huge
// value costs nothing. The longest valid hash (64-byte salt and key, largest
// parameters) has about 210 characters.
const maxEncodedLen = 256

// encode writes the PHC string of a hash.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC string written by encode, refusing anything else:
// another algorithm or version, parameters out of order or out of bounds, a
// salt or key of a refused length. Errors wrap ErrMalformedHash and never
// quote the salt or key.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return p, nil, nil, malformed("longer than %d characters", maxEncodedLen)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, malformed("not of the form $argon2id$v=19$m=,t=,p=$salt$key")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, malformed("algorithm %q, only argon2id is supported", parts[1])
	}
	if want := "v=" + strconv.Itoa(argon2.Version); parts[2] != want {
		return p, nil, nil, malformed("version %q, only %s is supported", parts[2], want)
	}
	if p, err = decodeParams(parts[3]); err != nil {
		return p, nil, nil, err
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, malformed("salt is not unpadded base64")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, malformed("key is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return p, salt, key, nil
}

// decodeParams parses "m=<KiB>,t=<passes>,p=<lanes>", in that order, as
// encode writes it.
func decodeParams(s string) (p Params, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return p, malformed("parameters %q are not m=,t=,p=", s)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		bits := 32
		if name == "p" {
			bits = 8
		}
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, malformed("parameters %q are not m=,t=,p=", s)
		}
		if vals[i], err = strconv.ParseUint(v, 10, bits); err != nil {
			return p, malformed("parameter %s=%q is not a number below 2^%d", name, v, bits)
		}
	}
	return Params{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Parallelism: uint8(vals[2])}, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}
