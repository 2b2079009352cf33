// Package enroll is how a new host joins a secure cluster with nothing but a
// join token (novacron agent --join-token): the token's format, and the
// host's side of the exchange. The cluster's side is the API's
// POST /api/v1/enroll.
//
// A token carries what the host needs to trust the cluster before it has any
// certificate, as kubeadm's CA hash does: the fingerprint of the cluster's
// CA, and the API addresses of the nodes that may enroll it. The host fetches
// the CA from one of them, keeps it only if its fingerprint matches, and from
// then on speaks verified TLS: a man in the middle cannot hand it another CA.
package enroll

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

// prefix marks join tokens, for people and secret scanners.
const prefix = "nvj1_"

// MaxAddrs bounds the API addresses one token carries.
const MaxAddrs = 5

// Token is a decoded join token.
type Token struct {
	// ID names the token in the cluster; Secret proves the holder may use it
	// (the cluster keeps only its hash).
	ID     string `json:"i"`
	Secret string `json:"s"`
	// CAHash is the hex SHA-256 of the cluster CA's certificate (pki.Fingerprint).
	CAHash string `json:"h"`
	// Addrs are HOST:PORT of the API of nodes that can enroll the host.
	Addrs []string `json:"a"`
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Encode returns the token as users paste it.
func (t Token) Encode() string {
	b, _ := json.Marshal(t) // a struct of strings always encodes
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Parse decodes and checks a pasted token. The error never repeats the
// token (it is a secret).
func Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, prefix) || len(s) > 2048 {
		return Token{}, errors.New("not a NovaCron join token (they start with " + prefix + ")")
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		return Token{}, errors.New("the join token is damaged (not base64): copy it again")
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return Token{}, errors.New("the join token is damaged: copy it again")
	}
	switch {
	case t.ID == "" || len(t.Secret) < 16:
		return Token{}, errors.New("the join token has no ID or secret")
	case !hexHash.MatchString(t.CAHash):
		return Token{}, errors.New("the join token has no CA fingerprint")
	case len(t.Addrs) == 0 || len(t.Addrs) > MaxAddrs:
		return Token{}, fmt.Errorf("the join token names %d API addresses, want 1 to %d", len(t.Addrs), MaxAddrs)
	}
	for _, a := range t.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return Token{}, fmt.Errorf("the join token's API address %q is not HOST:PORT", a)
		}
	}
	return t, nil
}
