// Package cloudinit builds the NoCloud seed a VM's guest configures itself
// from (issue 15): meta-data (instance-id, local-hostname, public-keys),
// user-data and network-config, as a small read-only ISO 9660 volume
// labelled "cidata" with Rock Ridge names, which cloud-init finds on its
// own. It is written in Go (go-diskfs), so a host needs no mkisofs or
// genisoimage at run time.
//
// Everything a user sends is checked here first and bounded: the hostname
// is an RFC 1123 name, each SSH key parses and is written back in its
// canonical form (no options, no second line), network-config is a YAML
// mapping of version 1 or 2, and meta-data is marshalled, never pasted
// together, so no field can add lines to another.
package cloudinit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// Bounds of what a seed holds.
const (
	MaxUserData      = 64 << 10
	MaxNetworkConfig = 16 << 10
	MaxSSHKeys       = 32
	maxSSHKey        = 16 << 10
	maxHostname      = 253
	maxInstanceID    = 128
)

// Config is what a user asks the guest to be.
type Config struct {
	// Hostname is the guest's name (the VM's name when empty).
	Hostname string
	// UserData is the user-data file: a #cloud-config document or a
	// script (#!).
	UserData string
	// SSHKeys are authorized_keys lines for the default user.
	SSHKeys []string
	// NetworkConfig is cloud-init's network configuration (version 1 or
	// 2); empty leaves the guest's own default (DHCP on the first NIC).
	NetworkConfig string
}

// ErrInvalid is a Config a seed cannot be built from; the message names the
// field.
var ErrInvalid = errors.New("invalid cloud-init data")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Validate checks c as Files would, without building anything.
func (c Config) Validate() error {
	_, err := c.normalise()
	return err
}

// normalise checks c and returns it with its SSH keys in canonical form.
func (c Config) normalise() (Config, error) {
	if c.Hostname != "" {
		if err := checkHostname(c.Hostname); err != nil {
			return c, err
		}
	}
	if len(c.UserData) > MaxUserData {
		return c, invalidf("user_data is %d bytes, at most %d", len(c.UserData), MaxUserData)
	}
	if len(c.SSHKeys) > MaxSSHKeys {
		return c, invalidf("%d ssh_keys, at most %d", len(c.SSHKeys), MaxSSHKeys)
	}
	keys := make([]string, 0, len(c.SSHKeys))
	for i, k := range c.SSHKeys {
		if len(k) > maxSSHKey || strings.ContainsAny(strings.TrimSpace(k), "\r\n") {
			return c, invalidf("ssh_keys[%d] is not one authorized_keys line", i)
		}
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			return c, invalidf("ssh_keys[%d] is not an SSH public key: %v", i, err)
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
		if comment = strings.TrimSpace(comment); comment != "" {
			line += " " + comment
		}
		keys = append(keys, line)
	}
	c.SSHKeys = keys
	if c.NetworkConfig != "" {
		if err := checkNetworkConfig(c.NetworkConfig); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkHostname accepts an RFC 1123 host name: dot-separated labels of
// letters, digits and inner hyphens, 1 to 63 bytes each.
func checkHostname(h string) error {
	if len(h) > maxHostname {
		return invalidf("hostname is %d bytes, at most %d", len(h), maxHostname)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return invalidf("hostname %q: each dot-separated label is 1 to 63 letters, digits or inner hyphens", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return invalidf("hostname %q holds %q: only letters, digits, hyphens and dots", h, r)
			}
		}
	}
	return nil
}

// checkNetworkConfig accepts a YAML mapping whose version is 1 or 2 (at
// the top, or under "network:").
func checkNetworkConfig(doc string) error {
	if len(doc) > MaxNetworkConfig {
		return invalidf("network_config is %d bytes, at most %d", len(doc), MaxNetworkConfig)
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil || m == nil {
		return invalidf("network_config is not a YAML mapping: %v", err)
	}
	if inner, ok := m["network"].(map[string]any); ok {
		m = inner
	}
	switch m["version"] {
	case 1, 2:
		return nil
	}
	return invalidf("network_config: version must be 1 or 2, got %v", m["version"])
}

// Files returns the seed's files for the VM with instanceID (its ID) and
// name (the hostname when c names none): meta-data, user-data and, when
// given, network-config.
func Files(instanceID, name string, c Config) (map[string][]byte, error) {
	if instanceID == "" || len(instanceID) > maxInstanceID || strings.ContainsAny(instanceID, "\r\n") {
		return nil, invalidf("instance id must be 1 to %d bytes on one line", maxInstanceID)
	}
	c, err := c.normalise()
	if err != nil {
		return nil, err
	}
	if c.Hostname == "" {
		c.Hostname = name
		if err := checkHostname(name); err != nil {
			return nil, err
		}
	}
	meta := struct {
		InstanceID    string   `yaml:"instance-id"`
		LocalHostname string   `yaml:"local-hostname"`
		PublicKeys    []string `yaml:"public-keys,omitempty"`
	}{instanceID, c.Hostname, c.SSHKeys}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(meta); err != nil {
		return nil, err
	}
	files := map[string][]byte{"meta-data": buf.Bytes(), "user-data": []byte(c.UserData)}
	if c.UserData == "" {
		files["user-data"] = []byte("#cloud-config\n{}\n")
	}
	if c.NetworkConfig != "" {
		files["network-config"] = []byte(c.NetworkConfig)
	}
	return files, nil
}
