// Package ids makes random identifiers and secrets.
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// New returns a random UUID (version 4) string, used for VM, node and token IDs.
func New() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("ids: no randomness: %v", err)) // crypto/rand never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Secret returns a random secret of n bytes, hex-encoded, with a prefix that makes
// it recognisable in logs and secret scanners.
func Secret(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("ids: no randomness: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}
