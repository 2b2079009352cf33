package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/novacron/novacron/api/client"
)

// vmImageFlags are the flags of `vm create` that make a VM from an image
// and configure its guest through cloud-init.
type vmImageFlags struct {
	image, pool   string
	hostname      string
	userData      string
	sshKeys       []string
	networkConfig string
}

func (fl *vmImageFlags) register(f *pflag.FlagSet) {
	f.StringVar(&fl.image, "image", "", "make the VM's root disk from this image (name or ID; see image list); --disk then defaults to the image's size")
	f.StringVar(&fl.pool, "pool", "", "storage pool of the VM's volumes (default: its image's pool)")
	f.StringVar(&fl.hostname, "hostname", "", "cloud-init: the guest's host name (default: the VM's name)")
	f.StringVar(&fl.userData, "user-data", "", "cloud-init: a user-data FILE (#cloud-config or a #! script; - reads stdin)")
	f.StringArrayVar(&fl.sshKeys, "ssh-key", nil, "cloud-init: a FILE of SSH public keys, one a line (repeatable; blank lines and # comments skipped)")
	f.StringVar(&fl.networkConfig, "network-config", "", "cloud-init: a network-config FILE (version 1 or 2; default DHCP)")
}

// apply sets the image, pool and cloud-init configuration of req from the
// flags, reading the files they name ("-": stdin, for one of them at most).
// A VM gets a cloud-init configuration only when one of its flags is given.
func (fl *vmImageFlags) apply(req *client.VMRequest, stdin io.Reader) error {
	req.Image, req.Pool = strings.TrimSpace(fl.image), strings.TrimSpace(fl.pool)
	if req.Image != "" && req.Boot != nil && req.Boot.Disk != "" {
		return usagef("--image cannot be combined with --boot-disk: the image is the VM's disk")
	}
	if fl.hostname == "" && fl.userData == "" && len(fl.sshKeys) == 0 && fl.networkConfig == "" {
		return nil
	}
	r := &fileReader{stdin: stdin}
	ci := &client.CloudInit{Hostname: strings.TrimSpace(fl.hostname)}
	var err error
	if fl.userData != "" {
		if ci.UserData, err = r.read("--user-data", fl.userData); err != nil {
			return err
		}
	}
	if fl.networkConfig != "" {
		if ci.NetworkConfig, err = r.read("--network-config", fl.networkConfig); err != nil {
			return err
		}
	}
	for _, path := range fl.sshKeys {
		text, err := r.read("--ssh-key", path)
		if err != nil {
			return err
		}
		keys := parseSSHKeys(text)
		if len(keys) == 0 {
			return usagef("--ssh-key %s holds no key: want authorized_keys lines such as \"ssh-ed25519 AAAA... user@host\"", path)
		}
		ci.SSHKeys = append(ci.SSHKeys, keys...)
	}
	req.CloudInit = ci
	return nil
}

// fileReader reads the files named by flags, stdin for "-" at most once.
type fileReader struct {
	stdin     io.Reader
	stdinUsed string
}

// maxCloudInitFile bounds what the CLI reads of one file; the API's own
// limits (64 KiB of user-data) are below it and give the precise message.
const maxCloudInitFile = 1 << 20

func (r *fileReader) read(flag, path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		if r.stdinUsed != "" {
			return "", usagef("%s - and %s - both read stdin: give one of them a file", r.stdinUsed, flag)
		}
		r.stdinUsed = flag
		b, err = io.ReadAll(io.LimitReader(r.stdin, maxCloudInitFile+1))
	} else {
		b, err = readSmallFile(path, maxCloudInitFile+1)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if len(b) > maxCloudInitFile {
		return "", usagef("%s %s is larger than %d bytes", flag, path, maxCloudInitFile)
	}
	return string(b), nil
}

// readSmallFile reads at most limit bytes of the file at path.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// parseSSHKeys returns the keys of an authorized_keys-style text: one a
// line, blank lines and # comments skipped. The API checks each key.
func parseSSHKeys(text string) []string {
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, line)
	}
	return keys
}
