// Package fetch downloads VM disk images from http and https URLs that a user
// gave, and is the guard against server-side request forgery (SSRF) on the
// way: a URL is hostile input that could otherwise make a NovaCron node read
// the cloud metadata service (169.254.169.254), an admin port on loopback, or
// a service on the private network, and hand the answer back as a "disk".
//
// Three checks stand between a URL and a connection:
//
//   - CheckURL: only http and https, no credentials in the URL, a sane port,
//     and a host the operator's allow-list (Policy.AllowedHosts) names. The
//     API calls it to refuse early with a clear message; Download calls it
//     again, and so does every redirect.
//   - At connect time, inside the dialer (dial.go), the address the name
//     resolved to is checked, so DNS rebinding (a name that resolves to a
//     public address for the check and to 127.0.0.1 for the connection)
//     cannot slip through. Loopback, private, link-local (the metadata
//     service), CGNAT, multicast, unspecified and reserved addresses are
//     refused unless an IP or CIDR entry of the allow-list covers them: an
//     allowed host name alone never reaches them.
//   - No proxy is used, not even one from the environment: a proxy would
//     make the connection (and the address check) somewhere else.
//
// The body is bounded by Policy.MaxBytes, hashed while it streams, and only
// renamed into place once its SHA-256 matches the one the user gave; on any
// error nothing is left behind.
package fetch

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Sentinel errors, for callers to map with errors.Is. Every error returned
// wraps one of them (or the context's error) and says what was refused.
var (
	// ErrBadURL is a URL that is malformed or of a kind never fetched: a
	// scheme other than http or https, credentials, no host, a bad port.
	ErrBadURL = errors.New("bad image URL")
	// ErrNotAllowed is a URL, redirect or address the policy refuses.
	ErrNotAllowed = errors.New("image URL not allowed")
	// ErrTooLarge is a body longer than Policy.MaxBytes.
	ErrTooLarge = errors.New("image too large")
	// ErrChecksum is a body whose SHA-256 is not the one asked for, or an
	// expected sum that is not 64 hex digits.
	ErrChecksum = errors.New("wrong image checksum")
	// ErrStatus is an answer other than 2xx from the server.
	ErrStatus = errors.New("image server refused")
)

// Defaults for the zero values of Policy.
const (
	DefaultMaxBytes     int64 = 64 << 30
	DefaultMaxRedirects       = 5
	defaultSetting            = "the image URL allow-list"
)

// Policy says which URLs may be fetched. The zero value fetches nothing.
type Policy struct {
	// AllowedHosts are the hosts that may be fetched from. An entry is one of:
	//   - a host name, "images.example.com" (case and a final dot ignored);
	//   - a suffix pattern, "*.example.com", matching any name below
	//     example.com but not example.com itself;
	//   - an IP literal, "203.0.113.7" or "::1" (brackets optional);
	//   - a CIDR, "10.20.0.0/16".
	// Names, patterns and IP literals may carry a port ("host:8443",
	// "[::1]:8080"), which then is the only port allowed. Only IP and CIDR
	// entries allow loopback, private, link-local and other special
	// addresses; a name on the list that resolves to one is refused.
	// Empty means nothing may be fetched.
	AllowedHosts []string
	// MaxBytes bounds the body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxRedirects bounds the redirects followed; 0 means
	// DefaultMaxRedirects, a negative value follows none.
	MaxRedirects int
	// RootCAs are the CAs trusted for https; nil means the system's. Set it
	// for a mirror with a private CA (and in tests).
	RootCAs *x509.CertPool
	// Setting is how refusals name the allow-list to the user, e.g.
	// "--image-url-allow", so the message says what to change.
	Setting string
}

// entry is one parsed AllowedHosts item: either a name (wildcard for
// "*.suffix") or an IP prefix.
type entry struct {
	name     string
	wildcard bool
	prefix   netip.Prefix // valid for IP literals and CIDRs
	port     string       // "" allows any port
}

// Validate reports allow-list entries that cannot be parsed, so a typo is
// caught when the configuration is read and not at the first import.
func (p Policy) Validate() error {
	_, err := p.entries()
	return err
}

func (p Policy) entries() ([]entry, error) {
	out := make([]entry, 0, len(p.AllowedHosts))
	for _, raw := range p.AllowedHosts {
		e, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", p.setting(), raw, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseEntry(raw string) (entry, error) {
	s := strings.TrimSpace(raw)
	if s == "" || strings.Contains(s, "://") || strings.ContainsAny(s, "@?#\\ ") {
		return entry{}, errors.New("want a host name, *.domain, IP, CIDR, optionally with :port")
	}
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return entry{}, fmt.Errorf("not a CIDR: %v", err)
		}
		return entry{prefix: pfx.Masked()}, nil
	}
	host, port := s, ""
	if h, pt, err := net.SplitHostPort(s); err == nil {
		if port = canonPort(pt); port == "" {
			return entry{}, fmt.Errorf("bad port %q", pt)
		}
		host = h
	}
	bracketed := strings.HasPrefix(host, "[") || strings.HasSuffix(host, "]")
	if bracketed {
		if len(host) < 2 || host[0] != '[' || host[len(host)-1] != ']' {
			return entry{}, errors.New("unbalanced brackets")
		}
		host = host[1 : len(host)-1]
	}
	ip, err := netip.ParseAddr(host)
	if bracketed && (err != nil || !ip.Is6()) {
		return entry{}, errors.New("brackets hold only an IPv6 address")
	}
	if err == nil {
		if ip.Zone() != "" {
			return entry{}, errors.New("IPv6 zones are not supported")
		}
		ip = ip.Unmap()
		return entry{prefix: netip.PrefixFrom(ip, ip.BitLen()), port: port}, nil
	}
	e := entry{port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.wildcard, host = true, rest
	}
	e.name = normName(host)
	if e.name == "" || strings.ContainsAny(e.name, "*:[]") {
		return entry{}, errors.New("want a host name, *.domain, IP, CIDR, optionally with :port")
	}
	return e, nil
}

// matchURL reports whether the entry allows a URL's host and port.
func (e entry) matchURL(host string, ip netip.Addr, port string) bool {
	if e.port != "" && e.port != port {
		return false
	}
	switch {
	case e.prefix.IsValid():
		return ip.IsValid() && e.prefix.Contains(ip)
	case ip.IsValid():
		return false
	case e.wildcard:
		return strings.HasSuffix(host, "."+e.name)
	default:
		return host == e.name
	}
}

// CheckURL parses raw and accepts it only if it is an http or https URL
// without credentials whose host and port the allow-list names. It does not
// resolve the name: addresses are checked when connecting.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	entries, err := p.entries()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q; only http and https are fetched", ErrBadURL, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not accepted", ErrBadURL)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host in the URL", ErrBadURL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	} else if port = canonPort(u.Port()); port == "" {
		return nil, fmt.Errorf("%w: port %q", ErrBadURL, u.Port())
	}
	host := normName(u.Hostname())
	ip, err := netip.ParseAddr(host)
	if err == nil {
		if ip.Zone() != "" {
			return nil, fmt.Errorf("%w: IPv6 zones are not accepted", ErrBadURL)
		}
		ip = ip.Unmap()
	}
	for _, e := range entries {
		if e.matchURL(host, ip, port) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: host %s (port %s) is not in %s", ErrNotAllowed, u.Host, port, p.setting())
}

func (p Policy) setting() string {
	if p.Setting == "" {
		return defaultSetting
	}
	return p.Setting
}

func (p Policy) maxBytes() int64 {
	if p.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return p.MaxBytes
}

func (p Policy) maxRedirects() int {
	switch {
	case p.MaxRedirects == 0:
		return DefaultMaxRedirects
	case p.MaxRedirects < 0:
		return 0
	}
	return p.MaxRedirects
}

func normName(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// canonPort returns a port in 1..65535 without leading zeros, so "0443"
// and "443" compare equal, or "" if s is no such port.
func canonPort(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' {
		return ""
	}
	return strconv.Itoa(n)
}
