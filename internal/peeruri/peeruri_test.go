package peeruri

import (
	"errors"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// libvirtNode is node-2, whose API (its certified address) is 10.0.0.2.
func libvirtNode(uri, migrateURI string) fsm.Node {
	return fsm.Node{ID: "n2", Name: "node-2", APIAddr: "10.0.0.2:8090", RaftAddr: "10.0.0.2:7947",
		Hypervisor: fsm.HypervisorInfo{Driver: DriverLibvirt, URI: uri, MigrateURI: migrateURI}}
}

const labSocket = "qemu+unix:///system?socket=/var/lib/novacron-lab/hosts/host2/run/libvirt-sock"

func TestPolicy_Check(t *testing.T) {
	def := Policy{}
	ssh := Policy{LibvirtSchemes: []string{SchemeTLS, SchemeSSH}}
	lab := Policy{LibvirtSchemes: []string{SchemeUnix}}
	for _, c := range []struct {
		name   string
		policy Policy
		node   fsm.Node
		// want is "" for accepted, else a part of the refusal.
		want string
	}{
		{"good qemu+tls", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp://10.0.0.2"), ""},
		{"qemu+tls with port and migration port", def, libvirtNode("qemu+tls://10.0.0.2:16514/system", "tcp://10.0.0.2:49152"), ""},
		{"no migration URI", def, libvirtNode("qemu+tls://10.0.0.2/system", ""), ""},
		{"scheme in capitals", def, libvirtNode("QEMU+TLS://10.0.0.2/system", ""), ""},
		{"ipv6", def, fsm.Node{Name: "v6", APIAddr: "[fd00::2]:8090",
			Hypervisor: fsm.HypervisorInfo{Driver: DriverLibvirt, URI: "qemu+tls://[fd00::2]/system", MigrateURI: "tcp://[fd00::2]:49152"}}, ""},
		{"qemu+ssh configured, with a user", ssh, libvirtNode("qemu+ssh://root@10.0.0.2/system", "tcp://10.0.0.2"), ""},
		{"lab's qemu+unix when configured", lab, libvirtNode(labSocket, "tcp://10.0.0.2"), ""},

		{"qemu+ext", def, libvirtNode("qemu+ext:///system?command=/bin/sh", ""), "qemu+ext runs a local program and is never allowed"},
		{"qemu+ext even when others are allowed", Policy{LibvirtSchemes: configurable}, libvirtNode("qemu+ext://10.0.0.2/system", ""), "never allowed"},
		{"qemu+ssh not configured", def, libvirtNode("qemu+ssh://10.0.0.2/system", ""), "scheme qemu+ssh is not allowed here (allowed: qemu+tls; --libvirt-peer-schemes"},
		{"qemu+tcp not configured", def, libvirtNode("qemu+tcp://10.0.0.2/system", ""), "scheme qemu+tcp is not allowed here"},
		{"qemu+tcp to another host", Policy{LibvirtSchemes: []string{SchemeTCP}}, libvirtNode("qemu+tcp://10.0.0.9/system", ""),
			"its host 10.0.0.9 is not the node's certified address 10.0.0.2"},
		{"qemu+tls to a name", def, libvirtNode("qemu+tls://evil.example/system", ""), "its host evil.example is not the node's certified address"},
		{"user@ hiding the host", def, libvirtNode("qemu+tls://10.0.0.2@10.0.0.9/system", ""), "its host 10.0.0.9 is not"},
		{"?command=/bin/sh", def, libvirtNode("qemu+tls://10.0.0.2/system?command=/bin/sh", ""), "query parameter command= runs a program on this host"},
		{"?COMMAND= in capitals", def, libvirtNode("qemu+tls://10.0.0.2/system?COMMAND=/bin/sh", ""), "query parameter COMMAND= runs a program"},
		{"?command= percent-encoded", def, libvirtNode("qemu+tls://10.0.0.2/system?%63ommand=/bin/sh", ""), "query parameter command= runs a program"},
		{"; separates parameters for libvirt", lab, libvirtNode(labSocket+";command=/bin/sh", ""), "its query does not parse"},
		{"?netcat=", ssh, libvirtNode("qemu+ssh://10.0.0.2/system?netcat=/tmp/x", ""), "netcat= chooses the program"},
		{"?no_verify=1", def, libvirtNode("qemu+tls://10.0.0.2/system?no_verify=1", ""), "no_verify= turns certificate verification off"},
		{"?pkipath=", def, libvirtNode("qemu+tls://10.0.0.2/system?pkipath=/tmp", ""), "pkipath= chooses the certificates"},
		{"?keyfile=", ssh, libvirtNode("qemu+ssh://10.0.0.2/system?keyfile=/root/.ssh/id_rsa", ""), "keyfile= chooses the key"},
		{"?known_hosts=", ssh, libvirtNode("qemu+ssh://10.0.0.2/system?known_hosts=/tmp/k", ""), "known_hosts= chooses the host keys"},
		{"unknown parameter", def, libvirtNode("qemu+tls://10.0.0.2/system?mode=direct", ""), "query parameter mode= is not allowed"},
		{"?socket= on qemu+tls", def, libvirtNode("qemu+tls://10.0.0.2/system?socket=/run/x", ""), "socket= chooses the socket opened (allowed on qemu+unix only)"},
		{"qemu+unix not configured", def, libvirtNode(labSocket, ""), "scheme qemu+unix is not allowed here"},
		{"qemu+unix without socket", lab, libvirtNode("qemu+unix:///system", ""), "qemu+unix needs ?socket="},
		{"qemu+unix relative socket", lab, libvirtNode("qemu+unix:///system?socket=run/sock", ""), "?socket= must be an absolute, clean path"},
		{"qemu+unix socket with ..", lab, libvirtNode("qemu+unix:///system?socket=/a/../run/sock", ""), "absolute, clean path"},
		{"qemu+unix socket twice", lab, libvirtNode(labSocket+"&SOCKET=/run/other", ""), "?socket= must be given once"},
		{"qemu+unix with a host", lab, libvirtNode("qemu+unix://10.0.0.2/system?socket=/run/sock", ""), "qemu+unix takes no host"},
		{"local qemu:///system", def, libvirtNode("qemu:///system", ""), "the node must publish a URI other hosts can reach (--libvirt-peer-uri"},
		{"bare qemu with a host", def, libvirtNode("qemu://10.0.0.2/system", ""), "it names no transport"},
		{"qemu+tls without a host", def, libvirtNode("qemu+tls:///system", ""), "it names no host"},
		{"another driver's scheme", def, libvirtNode("xen+ssh://10.0.0.2/system", ""), "scheme xen+ssh is never allowed"},
		{"test driver", def, libvirtNode("test:///default", ""), "scheme test is never allowed"},
		{"unknown transport", def, libvirtNode("qemu+foo://10.0.0.2/system", ""), "scheme qemu+foo is never allowed"},
		{"session path", def, libvirtNode("qemu+tls://10.0.0.2/session", ""), "the path must be /system"},
		{"escaped path", def, libvirtNode("qemu+tls://10.0.0.2/%73ystem", ""), "the path must be /system"},
		{"password", def, libvirtNode("qemu+tls://u:secret@10.0.0.2/system", ""), "a password in the URI is not allowed"},
		{"fragment", def, libvirtNode("qemu+tls://10.0.0.2/system#x", ""), "a fragment is not allowed"},
		{"space", def, libvirtNode("qemu+tls://10.0.0.2/system?x= y", ""), "spaces, control characters"},
		{"control character", def, libvirtNode("qemu+tls://10.0.0.2/system\n", ""), "spaces, control characters"},
		{"opaque", def, libvirtNode("qemu+tls:10.0.0.2", ""), "not a URI of the form"},
		{"empty", def, libvirtNode("", ""), "it is empty"},
		{"no API address", def, fsm.Node{Name: "node-2", Hypervisor: fsm.HypervisorInfo{Driver: DriverLibvirt, URI: "qemu+tls://10.0.0.2/system"}},
			"the node publishes no API address"},

		{"migration URI to another host", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp://10.0.0.9"),
			`publishes migration URI "tcp://10.0.0.9": its host 10.0.0.9 is not the node's certified address 10.0.0.2`},
		{"migration URI without a host", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp://:49152"), "it names no host"},
		{"migration URI scheme", def, libvirtNode("qemu+tls://10.0.0.2/system", "unix:///tmp/sock"), "scheme unix is not allowed for migration streams"},
		{"migration URI legacy form", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp:10.0.0.2:49152"), "not a URI of the form"},
		{"migration URI with a query", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp://10.0.0.2?x=1"), "no user, path, query or fragment"},
		{"migration URI with a path", def, libvirtNode("qemu+tls://10.0.0.2/system", "tcp://10.0.0.2/x"), "no user, path, query or fragment"},

		{"sim node", def, fsm.Node{Name: "s", Hypervisor: fsm.HypervisorInfo{Driver: DriverSim, URI: "sim://s"}}, ""},
		{"sim node with a libvirt URI", def, fsm.Node{Name: "s", Hypervisor: fsm.HypervisorInfo{Driver: DriverSim, URI: "qemu+ext:///"}}, "a sim host's URI is sim://NAME"},
		{"unknown driver", def, fsm.Node{Name: "x", Hypervisor: fsm.HypervisorInfo{Driver: "xen", URI: "xen:///"}}, `runs the hypervisor driver "xen"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.policy.Check(c.node)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
				return
			case err == nil:
				t.Fatalf("accepted, want a refusal saying %q", c.want)
			case !errors.Is(err, ErrRefused):
				t.Fatalf("error %v does not wrap ErrRefused", err)
			case !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q, want it to say %q", err, c.want)
			case !strings.Contains(err.Error(), `node "`+c.node.Name+`"`):
				t.Fatalf("error %q does not name the node", err)
			}
		})
	}
}

// Every refusal of a URI names the URI itself, quoted (gossip may carry any
// bytes).
func TestPolicy_CheckNamesTheURI(t *testing.T) {
	err := Policy{}.Check(libvirtNode("qemu+ext:///system?command=/bin/sh", ""))
	if err == nil || !strings.Contains(err.Error(), `publishes libvirt URI "qemu+ext:///system?command=/bin/sh"`) {
		t.Fatalf("error %v", err)
	}
	err = Policy{}.Check(libvirtNode("qemu+tls://10.0.0.2/system\x1b[2J", ""))
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("error %q carries the raw escape", err)
	}
}

func TestPolicy_Validate(t *testing.T) {
	if err := (Policy{LibvirtSchemes: configurable}).Validate(); err != nil {
		t.Fatalf("every configurable scheme refused: %v", err)
	}
	if err := (Policy{}).Validate(); err != nil || strings.Join(Policy{}.Schemes(), ",") != SchemeTLS {
		t.Fatalf("zero policy: %v, schemes %v", err, Policy{}.Schemes())
	}
	for _, s := range []string{"qemu+ext", "qemu", "xen+ssh", "QEMU+TLS", ""} {
		if err := (Policy{LibvirtSchemes: []string{s}}).Validate(); err == nil || !strings.Contains(err.Error(), "cannot be allowed") {
			t.Errorf("scheme %q: %v", s, err)
		}
	}
}

func TestAddress(t *testing.T) {
	for api, want := range map[string]string{"10.0.0.2:8090": "10.0.0.2", "[fd00::2]:8090": "fd00::2", "": "", "10.0.0.2": ""} {
		if got := Address(fsm.Node{APIAddr: api}); got != want {
			t.Errorf("Address(%q) = %q, want %q", api, got, want)
		}
	}
}
