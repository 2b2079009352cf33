// Package peeruri judges the hypervisor URIs a node publishes about itself in
// gossip, before another host connects to them.
//
// A migration's source host hands the target node's libvirt URI to its own
// libvirtd, which opens it as root (a peer-to-peer migration), and the agent
// opens it itself to settle a migration after a restart; the migration stream
// URI tells the guest's QEMU where to connect. Gossip is not authenticated by
// itself, so any member could publish anything there, and libvirt URIs can do
// far more than connect: qemu+ext:// and ?command= run a local program,
// ?netcat= and ?socket= choose what runs or is opened, ?keyfile=, ?pkipath=,
// ?known_hosts= choose which credentials are trusted, ?no_verify= turns
// verification off. A host that used a peer's URIs as given would run what any
// gossip member asked.
//
// Check accepts a URI only when:
//   - its scheme is qemu+TRANSPORT with a transport the Policy allows
//     (qemu+tls by default; qemu+tcp, qemu+ssh, qemu+libssh, qemu+libssh2 and
//     qemu+unix only when configured). qemu+ext, the bare qemu scheme and any
//     other driver's scheme are never allowed;
//   - it names the node's certified address as its host: the host of the API
//     address the node publishes, which, with TLS, the leader has checked
//     against the node's certificate before recording it (cluster/identity.go).
//     A URI without a host names the source's own libvirt and is refused;
//     qemu+unix has no host to check, which is why it is for the lab only,
//     where every host is on one machine;
//   - its path is /system, and it has no query parameter but ?socket= (an
//     absolute path, qemu+unix only), no password and no fragment.
//
// The migration stream URI, when given, must be tcp://ADDRESS[:PORT] with the
// same address. The sim driver's URIs name a host in the same process and are
// checked only for their scheme.
package peeruri

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// Drivers whose nodes Check knows; they are the drivers' Name().
const (
	DriverLibvirt = "libvirt"
	DriverSim     = "sim"
)

// libvirt URI schemes a Policy may allow.
const (
	SchemeTLS     = "qemu+tls"
	SchemeTCP     = "qemu+tcp"
	SchemeSSH     = "qemu+ssh"
	SchemeLibSSH  = "qemu+libssh"
	SchemeLibSSH2 = "qemu+libssh2"
	SchemeUnix    = "qemu+unix"
)

// configurable are the schemes an operator may allow; no flag allows another.
var configurable = []string{SchemeTLS, SchemeTCP, SchemeSSH, SchemeLibSSH, SchemeLibSSH2, SchemeUnix}

// DefaultSchemes are the schemes allowed when a Policy names none: TLS,
// authenticated and encrypted, as libvirt's default remote transport is.
var DefaultSchemes = []string{SchemeTLS}

// ErrRefused is wrapped by every refusal of Check.
var ErrRefused = errors.New("peer URI refused")

// Policy says which peer URIs this node accepts. The zero value is the
// default: DefaultSchemes.
type Policy struct {
	// LibvirtSchemes are the libvirt URI schemes a peer may publish; empty
	// means DefaultSchemes. Every node should allow the same ones: a source
	// host judges its target by its own list.
	LibvirtSchemes []string
}

// Schemes returns the schemes the policy allows.
func (p Policy) Schemes() []string {
	if len(p.LibvirtSchemes) == 0 {
		return DefaultSchemes
	}
	return p.LibvirtSchemes
}

// Validate refuses a scheme no policy may allow.
func (p Policy) Validate() error {
	var errs []error
	for _, s := range p.LibvirtSchemes {
		if !slices.Contains(configurable, s) {
			errs = append(errs, fmt.Errorf("libvirt peer scheme %q cannot be allowed: choose among %s (qemu+ext and other drivers' schemes never are)",
				s, strings.Join(configurable, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Check says why node n's published hypervisor URIs must not be used to
// migrate to it, or nil. The error wraps ErrRefused and names the node, the
// URI and the rule it breaks.
func (p Policy) Check(n fsm.Node) error {
	refuse := func(what, uri, why string) error {
		return fmt.Errorf("%w: node %q publishes %s %q: %s", ErrRefused, n.Name, what, uri, why)
	}
	switch n.Hypervisor.Driver {
	case DriverSim:
		if !strings.HasPrefix(n.Hypervisor.URI, "sim://") {
			return refuse("hypervisor URI", n.Hypervisor.URI, "a sim host's URI is sim://NAME")
		}
		return nil
	case DriverLibvirt:
	default:
		return fmt.Errorf("%w: node %q runs the hypervisor driver %q, which no host migrates to", ErrRefused, n.Name, n.Hypervisor.Driver)
	}
	addr := Address(n)
	if why := p.libvirtRule(n.Hypervisor.URI, addr); why != "" {
		return refuse("libvirt URI", n.Hypervisor.URI, why)
	}
	if why := migrateRule(n.Hypervisor.MigrateURI, addr); why != "" {
		return refuse("migration URI", n.Hypervisor.MigrateURI, why)
	}
	return nil
}

// Address is node n's certified address: the host of the API address it
// publishes. With TLS the leader records a node only once its API has shown
// a node certificate that names it, valid for that address; without TLS
// nothing is certified, and it is only the address the node claims. "" when
// the node publishes none.
func Address(n fsm.Node) string {
	host, _, err := net.SplitHostPort(n.APIAddr)
	if err != nil {
		return ""
	}
	return host
}

// queryRisks says what the libvirt URI parameters a peer might try do; any
// other parameter but ?socket= on qemu+unix is refused too.
var queryRisks = map[string]string{
	"command":            "runs a program on this host",
	"netcat":             "chooses the program run at the other end",
	"proxy":              "chooses the program run at the other end",
	"socket":             "chooses the socket opened (allowed on qemu+unix only)",
	"keyfile":            "chooses the key this host authenticates with",
	"pkipath":            "chooses the certificates this host trusts",
	"known_hosts":        "chooses the host keys this host trusts",
	"known_hosts_verify": "can turn host key verification off",
	"no_verify":          "turns certificate verification off",
	"sshauth":            "chooses how this host authenticates",
	"tls_priority":       "chooses the TLS ciphers",
	"name":               "chooses the driver the other end opens",
}

// libvirtRule says which rule a libvirt URI breaks, or "".
func (p Policy) libvirtRule(raw, addr string) string {
	u, why := parse(raw)
	if why != "" {
		return why
	}
	scheme := u.Scheme // url.Parse lowercases it; libvirt matches transports in any case
	switch {
	case scheme == "qemu+ext":
		return "qemu+ext runs a local program and is never allowed"
	case scheme == "qemu" && u.Host == "":
		return "it names the libvirt of whichever host opens it, not this node's: the node must publish a URI other hosts can reach (--libvirt-peer-uri, e.g. qemu+tls://ADDRESS/system)"
	case scheme == "qemu":
		return "it names no transport: publish qemu+tls://ADDRESS/system (or another allowed qemu+TRANSPORT) explicitly"
	case !slices.Contains(configurable, scheme):
		return fmt.Sprintf("scheme %s is never allowed (only qemu+TRANSPORT URIs of %s)", scheme, strings.Join(configurable, ", "))
	case !slices.Contains(p.Schemes(), scheme):
		return fmt.Sprintf("scheme %s is not allowed here (allowed: %s; --libvirt-peer-schemes widens the list)", scheme, strings.Join(p.Schemes(), ", "))
	case u.Path != "/system" || u.EscapedPath() != "/system":
		return "the path must be /system"
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#"):
		return "a fragment is not allowed"
	}
	if pw, set := u.User.Password(); set || pw != "" {
		return "a password in the URI is not allowed"
	}
	if why := queryRule(u, scheme); why != "" {
		return why
	}
	if scheme == SchemeUnix {
		if u.Host != "" || u.User != nil {
			return "qemu+unix takes no host or user: it names a socket on the host that opens it"
		}
		return "" // no host to check: qemu+unix is for the lab, where every host is on this machine
	}
	return hostRule(u, addr)
}

// queryRule allows ?socket= (once, an absolute clean path) on qemu+unix, which
// needs it, and nothing else.
func queryRule(u *url.URL, scheme string) string {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Sprintf("its query does not parse (%v)", err)
	}
	sockets := 0
	for key, vals := range q {
		k := strings.ToLower(key) // libvirt matches parameter names in any case
		switch {
		case k == "socket" && scheme == SchemeUnix:
			if sockets += len(vals); sockets != 1 {
				return "?socket= must be given once"
			}
			s := vals[0]
			if !path.IsAbs(s) || path.Clean(s) != s || !printable(s) {
				return "?socket= must be an absolute, clean path"
			}
		case queryRisks[k] != "":
			return fmt.Sprintf("query parameter %s= %s and is never allowed", key, queryRisks[k])
		default:
			return fmt.Sprintf("query parameter %s= is not allowed (only ?socket= on qemu+unix)", key)
		}
	}
	if scheme == SchemeUnix && len(q) == 0 {
		return "qemu+unix needs ?socket= naming the node's libvirt socket: without it, it names this host's own libvirt"
	}
	return ""
}

// hostRule requires the URI's host to be the node's certified address.
func hostRule(u *url.URL, addr string) string {
	host := u.Hostname()
	switch {
	case host == "":
		return "it names no host, which is the libvirt of whichever host opens it: the node must publish its own address (--libvirt-peer-uri)"
	case addr == "":
		return "the node publishes no API address, so no host in its URIs can be checked"
	case !sameHost(host, addr):
		return fmt.Sprintf("its host %s is not the node's certified address %s (the host of its API address)", host, addr)
	}
	return ""
}

// migrateRule says which rule a migration stream URI breaks, or "". Empty is
// allowed: the destination's libvirt then names itself.
func migrateRule(raw, addr string) string {
	if raw == "" {
		return ""
	}
	u, why := parse(raw)
	switch {
	case why != "":
		return why
	case u.Scheme != "tcp":
		return fmt.Sprintf("scheme %s is not allowed for migration streams: tcp://ADDRESS[:PORT] only", u.Scheme)
	case u.User != nil || u.Path != "" || u.RawQuery != "" || strings.ContainsAny(raw, "?#"):
		return "a migration URI is tcp://ADDRESS[:PORT], with no user, path, query or fragment"
	}
	return hostRule(u, addr)
}

// parse parses a URI and refuses what libvirt might read differently than
// Go: anything but printable ASCII without spaces, and opaque URIs.
func parse(raw string) (*url.URL, string) {
	if raw == "" {
		return nil, "it is empty"
	}
	if !printable(raw) || strings.Contains(raw, `\`) {
		return nil, "it holds spaces, control characters, backslashes or non-ASCII"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Sprintf("it does not parse as a URI (%v)", err)
	}
	if u.Opaque != "" || u.Scheme == "" {
		return nil, "it is not a URI of the form SCHEME://HOST/PATH"
	}
	return u, ""
}

// printable reports whether s is printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// sameHost compares a URI's host with an address: as IP addresses when both
// are (so ::ffff:10.0.0.2 is 10.0.0.2), else as names, in any case.
func sameHost(host, addr string) bool {
	a, aerr := netip.ParseAddr(host)
	b, berr := netip.ParseAddr(addr)
	if aerr == nil && berr == nil {
		return a.Unmap() == b.Unmap()
	}
	return aerr != nil && berr != nil && strings.EqualFold(host, addr)
}
