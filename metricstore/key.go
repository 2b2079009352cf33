package metricstore

import (
	"fmt"
	"strings"
)

const (
	// MaxKeyLen bounds a key: the file name is as long as the key plus a
	// suffix, and must stay well under the 255 bytes a file system allows.
	MaxKeyLen = 128
	// MaxFields bounds a series' fields, which bounds a slot and a file.
	MaxFields = 32
	// maxFieldLen bounds a field name so every name fits the 4 KiB header.
	maxFieldLen = 64
	// fileSuffix marks a series file; anything else in the directory is
	// someone else's and left alone.
	fileSuffix = ".series"
	// damagedSuffix marks a file moved aside because it could not be read.
	damagedSuffix = ".damaged"
	// tmpSuffix marks a file being created; one left by a crash is removed
	// at Open.
	tmpSuffix = ".tmp"
)

// checkKey refuses any key that could name something other than a plain file
// in the store's directory: the alphabet has no path separator after mapping,
// and ".." is refused outright so a key never even looks like a traversal.
func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrBadKey, key, MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '/', c == '-':
		default:
			return fmt.Errorf("%w: %q has %q; allowed are letters, digits and . _ : / -", ErrBadKey, key, c)
		}
	}
	if strings.Contains(key, "..") {
		return fmt.Errorf("%w: %q contains \"..\"", ErrBadKey, key)
	}
	return nil
}

// fileName maps a valid key to its file name. '+' and '=' are not in the key
// alphabet, so the mapping is one to one and the name is as long as the key,
// and readable in `ls` ("vm+6f1c....series").
func fileName(key string) string {
	b := []byte(key)
	for i, c := range b {
		switch c {
		case '/':
			b[i] = '+'
		case ':':
			b[i] = '='
		}
	}
	return string(b) + fileSuffix
}

// keyFromFile reverses fileName; ok is false for a name this package did not
// write.
func keyFromFile(name string) (key string, ok bool) {
	base, found := strings.CutSuffix(name, fileSuffix)
	if !found {
		return "", false
	}
	b := []byte(base)
	for i, c := range b {
		switch c {
		case '+':
			b[i] = '/'
		case '=':
			b[i] = ':'
		case '/', ':':
			return "", false
		}
	}
	key = string(b)
	if checkKey(key) != nil {
		return "", false
	}
	return key, true
}

// checkFields validates a new series' field list: the names land in the
// header and in JSON, so they are kept short and plain, and a duplicate would
// make a result ambiguous.
func checkFields(fields []string) error {
	if len(fields) == 0 || len(fields) > MaxFields {
		return fmt.Errorf("%w: %d fields; a series has 1 to %d", ErrFields, len(fields), MaxFields)
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if f == "" || len(f) > maxFieldLen {
			return fmt.Errorf("%w: field %q must be 1 to %d characters", ErrFields, f, maxFieldLen)
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return fmt.Errorf("%w: field %q has %q; allowed are a-z 0-9 _", ErrFields, f, c)
			}
		}
		if seen[f] {
			return fmt.Errorf("%w: field %q appears twice", ErrFields, f)
		}
		seen[f] = true
	}
	return nil
}
