package cloudinit

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"go.yaml.in/yaml/v3"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm6hW3t0Bq7kKq2OBOz9oTVGiE2S5HGIu6lq8ZgDKnD alice@laptop"

func TestFiles_MetaDataIsMarshalledNotPasted(t *testing.T) {
	files, err := Files("vm-1234", "web-1", Config{SSHKeys: []string{`command="rm -rf /" ` + testKey}, UserData: "#!/bin/sh\necho hi\n"})
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		InstanceID string   `yaml:"instance-id"`
		Hostname   string   `yaml:"local-hostname"`
		Keys       []string `yaml:"public-keys"`
	}
	if err := yaml.Unmarshal(files["meta-data"], &meta); err != nil {
		t.Fatal(err)
	}
	if meta.InstanceID != "vm-1234" || meta.Hostname != "web-1" || len(meta.Keys) != 1 || meta.Keys[0] != testKey {
		t.Fatalf("meta-data = %s", files["meta-data"])
	}
	if string(files["user-data"]) != "#!/bin/sh\necho hi\n" || files["network-config"] != nil {
		t.Fatalf("files = %q", files)
	}
	if files, _ := Files("vm-1", "web-1", Config{}); string(files["user-data"]) != "#cloud-config\n{}\n" {
		t.Fatalf("an empty user-data = %q", files["user-data"])
	}
}

func TestConfig_BadInputIsRefusedNamingTheField(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{Hostname: "web_1"}, "hostname"},
		{Config{Hostname: "-web"}, "hostname"},
		{Config{Hostname: strings.Repeat("a", 64)}, "hostname"},
		{Config{Hostname: "web\ninstance-id: evil"}, "hostname"},
		{Config{UserData: strings.Repeat("x", MaxUserData+1)}, "user_data"},
		{Config{SSHKeys: []string{"not a key"}}, "ssh_keys[0]"},
		{Config{SSHKeys: []string{testKey + "\n" + testKey}}, "ssh_keys[0]"},
		{Config{SSHKeys: make([]string, MaxSSHKeys+1)}, "ssh_keys"},
		{Config{NetworkConfig: "version: 3"}, "network_config"},
		{Config{NetworkConfig: "- a list"}, "network_config"},
		{Config{NetworkConfig: strings.Repeat("#", MaxNetworkConfig+1)}, "network_config"},
	}
	for _, c := range cases {
		err := c.c.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+.60v: %v, want invalid naming %q", c.c, err, c.want)
		}
	}
	for _, ok := range []Config{{Hostname: "web-1.example.org"}, {NetworkConfig: "version: 2\nethernets: {}\n"}, {NetworkConfig: "network:\n  version: 1\n  config: []\n"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	if _, err := Files("", "web", Config{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty instance id: %v", err)
	}
}

// The seed is an ISO 9660 volume labelled cidata whose files keep their
// names (Rock Ridge): blkid, util-linux's reader, sees the label, and the
// files read back whole.
func TestWriteISO_ACidataVolumeWithTheFilesByName(t *testing.T) {
	files, err := Files("vm-1", "web-1", Config{UserData: "#cloud-config\nruncmd: [echo hi]\n", NetworkConfig: "version: 2\nethernets: {}\n"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteISO(path, files); err != nil {
		t.Fatal(err)
	}
	if err := WriteISO(path, files); err == nil {
		t.Fatal("WriteISO overwrote an existing file")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the seed file: %v %v", st, err)
	}
	if blkid, err := exec.LookPath("blkid"); err == nil {
		out, err := exec.Command(blkid, "-o", "value", "-s", "LABEL", path).Output()
		if err != nil || strings.TrimSpace(string(out)) != VolumeLabel {
			t.Errorf("blkid says the label is %q (%v), want %s", out, err, VolumeLabel)
		}
		out, _ = exec.Command(blkid, "-o", "value", "-s", "TYPE", path).Output()
		if strings.TrimSpace(string(out)) != "iso9660" {
			t.Errorf("blkid says the type is %q", out)
		}
	} else {
		t.Log("no blkid here: the label is checked by the ISO reader only")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	fs, err := iso9660.Read(file.New(f, true), st.Size(), 0, isoBlock)
	if err != nil {
		t.Fatal(err)
	}
	if label := strings.TrimRight(fs.Label(), "\x00 "); label != VolumeLabel {
		t.Errorf("label %q", label)
	}
	for name, want := range files {
		r, err := fs.OpenFile("/"+name, os.O_RDONLY)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, _ := io.ReadAll(r)
		if string(got) != string(want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
