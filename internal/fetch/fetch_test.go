package fetch

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckURL_AcceptsAllowListedHosts(t *testing.T) {
	cases := []struct {
		allowed string
		url     string
	}{
		{"images.example.com", "https://images.example.com/disk.qcow2"},
		{"IMAGES.example.com.", "https://images.EXAMPLE.com./disk.qcow2"},
		{"images.example.com", "HTTP://images.example.com:8080/disk.raw?sig=x"},
		{"*.example.com", "https://a.b.example.com/disk"},
		{"images.example.com:8443", "https://images.example.com:8443/disk"},
		{"images.example.com:443", "https://images.example.com/disk"},
		{"images.example.com:443", "https://images.example.com:0443/disk"},
		{"127.0.0.1", "http://127.0.0.1:9999/disk"},
		{"127.0.0.1", "http://[::ffff:127.0.0.1]:9999/disk"},
		{"::1", "http://[::1]/disk"},
		{"[::1]:8080", "http://[::1]:8080/disk"},
		{"10.0.0.0/8", "http://10.2.3.4/disk"},
		{"2001:db8::/32", "https://[2001:db8::7]/disk"},
	}
	for _, c := range cases {
		p := Policy{AllowedHosts: []string{"other.example.org", c.allowed}}
		if _, err := p.CheckURL(c.url); err != nil {
			t.Errorf("allow %q, CheckURL(%q): %v", c.allowed, c.url, err)
		}
	}
}

func TestCheckURL_RefusesWithTheReason(t *testing.T) {
	cases := []struct {
		allowed []string
		url     string
		want    error
		says    string
	}{
		{nil, "https://images.example.com/disk", ErrNotAllowed, "images.example.com"},
		{[]string{"images.example.com"}, "https://evil.example.net/disk", ErrNotAllowed, "evil.example.net"},
		{[]string{"images.example.com"}, "https://images.example.com.evil.net/", ErrNotAllowed, "evil.net"},
		{[]string{"*.example.com"}, "https://example.com/disk", ErrNotAllowed, "example.com"},
		{[]string{"*.example.com"}, "https://badexample.com/disk", ErrNotAllowed, "badexample.com"},
		{[]string{"images.example.com:8443"}, "https://images.example.com/disk", ErrNotAllowed, "port 443"},
		{[]string{"images.example.com"}, "http://169.254.169.254/latest/meta-data/", ErrNotAllowed, "169.254.169.254"},
		{[]string{"images.example.com"}, "http://10.0.0.1/disk", ErrNotAllowed, "10.0.0.1"},
		{[]string{"images.example.com"}, "http://192.168.1.1/disk", ErrNotAllowed, "192.168.1.1"},
		{[]string{"images.example.com"}, "http://[::1]/disk", ErrNotAllowed, "[::1]"},
		{[]string{"images.example.com"}, "http://0.0.0.0/disk", ErrNotAllowed, "0.0.0.0"},
		{[]string{"10.0.0.0/8"}, "http://11.0.0.1/disk", ErrNotAllowed, "11.0.0.1"},
		{[]string{"127.0.0.1"}, "http://localhost/disk", ErrNotAllowed, "localhost"},
		{[]string{"images.example.com"}, "ftp://images.example.com/disk", ErrBadURL, `"ftp"`},
		{[]string{"images.example.com"}, "file:///etc/passwd", ErrBadURL, `"file"`},
		{[]string{"images.example.com"}, "gopher://images.example.com/", ErrBadURL, "http and https"},
		{[]string{"images.example.com"}, "//images.example.com/disk", ErrBadURL, "scheme"},
		{[]string{"images.example.com"}, "https://user:pass@images.example.com/disk", ErrBadURL, "credentials"},
		{[]string{"images.example.com"}, "https://user@images.example.com/disk", ErrBadURL, "credentials"},
		{[]string{"images.example.com"}, "https:///disk", ErrBadURL, "no host"},
		{[]string{"images.example.com"}, "https:images.example.com", ErrBadURL, "no host"},
		{[]string{"images.example.com"}, "https://images.example.com:0/disk", ErrBadURL, "port"},
		{[]string{"images.example.com"}, "https://images.example.com:99999/disk", ErrBadURL, "port"},
		{[]string{"fe80::1"}, "https://[fe80::1%25eth0]/disk", ErrBadURL, "zone"},
		{[]string{"images.example.com"}, "", ErrBadURL, ""},
		{[]string{"images.example.com"}, "https://images.example.com\x7f/", ErrBadURL, ""},
	}
	for _, c := range cases {
		p := Policy{AllowedHosts: c.allowed, Setting: "--image-url-allow"}
		_, err := p.CheckURL(c.url)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("allow %q, CheckURL(%q) = %v; want %v saying %q", c.allowed, c.url, err, c.want, c.says)
		}
		if errors.Is(err, ErrNotAllowed) && !strings.Contains(err.Error(), "--image-url-allow") {
			t.Errorf("CheckURL(%q) = %v; want it to name the setting", c.url, err)
		}
	}
}

func TestPolicy_ValidateRefusesMalformedEntries(t *testing.T) {
	for _, bad := range []string{"", " ", "*", "*.", "https://images.example.com", "images.example.com/disk",
		"user@images.example.com", "images.example.com:0", "images.example.com:http", "10.0.0.0/33",
		"*.*.example.com", "a b", "fe80::1%eth0", "[::1"} {
		p := Policy{AllowedHosts: []string{"images.example.com", bad}, Setting: "--image-url-allow"}
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), "--image-url-allow") {
			t.Errorf("Validate with entry %q = %v; want an error naming the setting", bad, err)
		}
		if _, err := p.CheckURL("https://images.example.com/disk"); err == nil {
			t.Errorf("CheckURL with bad entry %q accepted a URL", bad)
		}
	}
	good := Policy{AllowedHosts: []string{"images.example.com", "*.example.org:8443", "127.0.0.1", "[::1]:80", "10.0.0.0/8", "fd00::/8"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestSpecialReason_ClassifiesAddresses(t *testing.T) {
	special := []string{
		"127.0.0.1", "127.255.255.254", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "fc00::1", "fd00:ec2::254", "169.254.169.254", "169.254.0.1", "fe80::1",
		"0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "239.255.255.250", "ff02::1", "100.64.0.1",
		"100.100.100.200", "255.255.255.255", "240.0.0.1", "198.18.0.1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0.0.0.0",
		"::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
	}
	for _, s := range special {
		if specialReason(netip.MustParseAddr(s)) == "" {
			t.Errorf("%s: not classed as special", s)
		}
	}
	ordinary := []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1",
		"2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}
	for _, s := range ordinary {
		if why := specialReason(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s: classed as %s", s, why)
		}
	}
}

func TestCheckAddr_SpecialAddressNeedsAnIPEntry(t *testing.T) {
	cases := []struct {
		allowed []string
		host    string
		address string
		ok      bool
		says    string
	}{
		{[]string{"images.example.com"}, "images.example.com", "93.184.216.34:443", true, ""},
		{[]string{"images.example.com"}, "images.example.com", "169.254.169.254:80", false, "images.example.com resolves to 169.254.169.254 (link-local (cloud metadata))"},
		{[]string{"images.example.com"}, "images.example.com", "10.0.0.1:443", false, `add "10.0.0.1"`},
		{[]string{"images.example.com"}, "images.example.com", "[::ffff:192.168.1.1]:443", false, `add "192.168.1.1"`},
		{[]string{"images.example.com"}, "images.example.com", "[::1]:443", false, "loopback"},
		{[]string{"images.example.com"}, "images.example.com", "0.0.0.0:443", false, "unspecified"},
		{[]string{"images.example.com", "10.0.0.0/8"}, "images.example.com", "10.1.2.3:443", true, ""},
		{[]string{"127.0.0.1"}, "127.0.0.1", "127.0.0.1:8080", true, ""},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", "127.0.0.1:8080", true, ""},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", "127.0.0.1:9090", false, "127.0.0.1 (loopback)"},
		{[]string{"127.0.0.1"}, "127.0.0.2", "127.0.0.2:80", false, "127.0.0.2 (loopback)"},
	}
	for _, c := range cases {
		p := Policy{AllowedHosts: c.allowed, Setting: "--image-url-allow"}
		entries, err := p.entries()
		if err != nil {
			t.Fatal(err)
		}
		err = p.checkAddr(entries, c.host, "tcp4", c.address)
		if c.ok {
			if err != nil {
				t.Errorf("allow %q, %s at %s: %v", c.allowed, c.host, c.address, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "--image-url-allow") {
			t.Errorf("allow %q, %s at %s = %v; want ErrNotAllowed saying %q and the setting", c.allowed, c.host, c.address, err, c.says)
		}
	}
	p := Policy{AllowedHosts: []string{"0.0.0.0/0"}}
	entries, _ := p.entries()
	if err := p.checkAddr(entries, "x", "unix", "/run/x.sock"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("unix network: %v", err)
	}
}
