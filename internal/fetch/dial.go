package fetch

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// connectTimeout bounds the TCP connect, and separately the TLS handshake and
// the wait for the response header: a server that accepts and then stalls
// must not hold an import for ever. The body is bounded by the caller's ctx.
const connectTimeout = 30 * time.Second

// special are the ranges a URL must never reach by a host name: they hold
// this node's own services, its private network, and the cloud metadata
// service. Order matters only for the reason given (the first match names it).
var special = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this-network)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 local-use"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Prefixes whose addresses carry an IPv4 address that a gateway may connect
// to: a NAT64 or 6to4 form of 127.0.0.1 is as dangerous as 127.0.0.1.
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixToV4 = netip.MustParsePrefix("2002::/16")
)

// specialReason says why ip may not be reached by name, or "" if it may.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address.
func specialReason(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.why
		}
	}
	var v4 [4]byte
	b := ip.As16()
	switch {
	case !ip.Is6():
		return ""
	case nat64.Contains(ip):
		copy(v4[:], b[12:16])
	case sixToV4.Contains(ip):
		copy(v4[:], b[2:6])
	default:
		return ""
	}
	if why := specialReason(netip.AddrFrom4(v4)); why != "" {
		return why + ", embedded in " + ip.String()
	}
	return ""
}

// checkAddr runs inside the dialer, after name resolution and before the
// connect, once per address tried. A special address passes only when an IP
// or CIDR entry (with its port, if it has one) covers it.
func (p Policy) checkAddr(entries []entry, host, network, address string) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrNotAllowed, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q: %v", ErrNotAllowed, address, err)
	}
	ip := ap.Addr().WithZone("").Unmap()
	why := specialReason(ip)
	if why == "" {
		return nil
	}
	port := fmt.Sprint(ap.Port())
	for _, e := range entries {
		if e.prefix.IsValid() && e.prefix.Contains(ip) && (e.port == "" || e.port == port) {
			return nil
		}
	}
	what := host + " resolves to " + ip.String()
	if h, err := netip.ParseAddr(host); err == nil && h.WithZone("").Unmap() == ip {
		what = ip.String()
	}
	return fmt.Errorf("%w: %s (%s); such addresses are fetched only when %s names the IP or a CIDR holding it (add %q), never through a host name",
		ErrNotAllowed, what, why, p.setting(), ip.String())
}

// dialContext returns the transport's dialer: each connection gets its own
// net.Dialer whose Control hook checks the address actually connected to,
// naming the host the URL gave so the refusal can say which name led there.
func (p Policy) dialContext(entries []entry) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%w: dial address %q: %v", ErrNotAllowed, addr, err)
		}
		d := net.Dialer{
			Timeout:   connectTimeout,
			KeepAlive: 30 * time.Second,
			Control: func(network, address string, _ syscall.RawConn) error {
				return p.checkAddr(entries, host, network, address)
			},
		}
		return d.DialContext(ctx, network, addr)
	}
}
