package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// writeFile writes text to a file of the test's and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// createBody is the body of the fake's first request, decoded.
func createBody(t *testing.T, f *fakeAPI) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestVMCreate_FromImageWithCloudInit(t *testing.T) {
	f := newFakeAPI(t)
	userData := writeFile(t, "hello.sh", "#!/bin/sh\necho hello\n")
	keys := writeFile(t, "keys", "# laptop\nssh-ed25519 AAAAC3Nz...1 me@laptop\n\n  ssh-rsa AAAAB3Nz...2 me@desk  \n")
	more := writeFile(t, "id.pub", "ssh-ed25519 AAAAC3Nz...3 ci\n")
	netcfg := writeFile(t, "net.yaml", "version: 2\nethernets: {eth0: {dhcp4: true}}\n")
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "web", "--image", "lab-disk", "--pool", "fast",
		"--hostname", "web.example", "--user-data", userData, "--ssh-key", keys, "--ssh-key", more, "--network-config", netcfg)
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	// No --disk: disk_gib 0, which the API reads as the image's size.
	want := map[string]any{"name": "web", "vcpus": 1.0, "memory_mib": 256.0, "disk_gib": 0.0, "image": "lab-disk", "pool": "fast",
		"cloud_init": map[string]any{"hostname": "web.example", "user_data": "#!/bin/sh\necho hello\n",
			"ssh_keys":       []any{"ssh-ed25519 AAAAC3Nz...1 me@laptop", "ssh-rsa AAAAB3Nz...2 me@desk", "ssh-ed25519 AAAAC3Nz...3 ci"},
			"network_config": "version: 2\nethernets: {eth0: {dhcp4: true}}\n"}}
	if got := createBody(t, f); !reflect.DeepEqual(got, want) {
		t.Errorf("body =\n%v\nwant\n%v", got, want)
	}
}

func TestVMCreate_ImageDiskAndNoCloudInit(t *testing.T) {
	f := newFakeAPI(t)
	if code, _, stderr := runCLI(t, f.env(), "vm", "create", "web", "--image", "lab-disk", "--disk", "20G"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	// --disk given: it sizes the root disk; no cloud-init flag: no cloud_init.
	want := map[string]any{"name": "web", "vcpus": 1.0, "memory_mib": 256.0, "disk_gib": 20.0, "image": "lab-disk"}
	if got := createBody(t, f); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}
	// --hostname alone makes a cloud-init configuration, on a VM without an image too.
	g := newFakeAPI(t)
	if code, _, stderr := runCLI(t, g.env(), "vm", "create", "db", "--hostname", "db"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want = map[string]any{"name": "db", "vcpus": 1.0, "memory_mib": 256.0, "disk_gib": 1.0, "cloud_init": map[string]any{"hostname": "db"}}
	if got := createBody(t, g); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}
}

func TestVMCreate_UserDataFromStdin(t *testing.T) {
	f := newFakeAPI(t)
	var out, errb bytes.Buffer
	a := newApp(testEnv(t, f.env()), &out, &errb)
	a.pollInterval = 5 * time.Millisecond
	a.stdin = strings.NewReader("#cloud-config\npackages: [nginx]\n")
	if code := execute(context.Background(), a, []string{"vm", "create", "web", "--image", "lab-disk", "--user-data", "-"}); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	ci, _ := createBody(t, f)["cloud_init"].(map[string]any)
	if ci["user_data"] != "#cloud-config\npackages: [nginx]\n" {
		t.Errorf("cloud_init = %v", ci)
	}
}

func TestVMCreate_ImageFlagsRefused(t *testing.T) {
	f := newFakeAPI(t)
	empty := writeFile(t, "keys", "# nothing here\n\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--image", "lab-disk", "--boot-disk", "/img/x.qcow2"}, exitUsage, "--image cannot be combined with --boot-disk"},
		{[]string{"--ssh-key", empty}, exitUsage, "holds no key"},
		{[]string{"--user-data", "-", "--network-config", "-"}, exitUsage, "--user-data - and --network-config - both read stdin"},
		{[]string{"--user-data", filepath.Join(t.TempDir(), "missing")}, exitError, "--user-data: open "},
	} {
		code, _, stderr := runCLI(t, f.env(), append([]string{"vm", "create", "web"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("refused flags sent %d requests", n)
	}
}

func TestVMDelete_KeepVolumes(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	if code, _, stderr := runCLI(t, f.env(), "vm", "delete", "db", "--keep-volumes"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if r := f.requests(); r[len(r)-1].Method != "DELETE" || r[len(r)-1].Query != "keep_volumes=true" {
		t.Errorf("delete = %+v, want DELETE ?keep_volumes=true", r[len(r)-1])
	}
	if code, _, stderr := runCLI(t, f.env(), "vm", "delete", "web", "--force"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if r := f.requests(); r[len(r)-1].Query != "" {
		t.Errorf("delete without --keep-volumes has query %q", r[len(r)-1].Query)
	}
}

func TestVMShow_ImagePoolCloudInit(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	f.vms[0].Image, f.vms[0].ImageName, f.vms[0].Pool = "img-2", "lab-disk", "default"
	f.vms[0].CloudInit = &client.CloudInit{UserData: "#!/bin/sh\n", SSHKeys: []string{"ssh-ed25519 AAAA a"}}
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"Image:          lab-disk\n", "Pool:           default\n",
		"Cloud-init:     hostname web (the VM's name), user-data (10 bytes), 1 SSH key\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("vm show lacks %q:\n%s", w, stdout)
		}
	}
	if _, stdout, _ = runCLI(t, f.env(), "vm", "show", "db"); !strings.Contains(stdout, "Image:          -\n") || strings.Contains(stdout, "Cloud-init") {
		t.Errorf("a VM without image or cloud-init:\n%s", stdout)
	}
}

func TestNodeShow_Pools(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	f.nodes[1].Pools = []client.NodePool{
		{Pool: "nfs", Error: "stat /mnt/novacron: no such file or directory"},
		{Pool: "default", CapacityBytes: 100 << 30, AvailableBytes: 70 << 30},
	}
	code, stdout, stderr := runCLI(t, f.env(), "node", "show", "node-a")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "Pools:\n" +
		"  default  70.0GiB of 100.0GiB available\n" +
		"  nfs      error: stat /mnt/novacron: no such file or directory\n"
	if !strings.HasSuffix(stdout, want) {
		t.Errorf("node show ends\n%s\nwant the end\n%s", stdout, want)
	}
	if _, stdout, _ = runCLI(t, f.env(), "node", "show", "node-b"); !strings.HasSuffix(stdout, "Pools: -\n") {
		t.Errorf("a node without pools:\n%s", stdout)
	}
}

func TestSettingsSet_Images(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "settings", "set", "--image-url-allow", "cloud.debian.org",
		"--image-url-allow", "*.example.com", "--image-max-bytes", "20G")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := map[string]any{"images": map[string]any{"url_allow": []any{"cloud.debian.org", "*.example.com"}, "max_bytes": float64(20 << 30)}}
	if got := createBody(t, f); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}
	for _, w := range []string{"Image URL hosts:      cloud.debian.org, *.example.com\n", "Image max size:       20.0GiB\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	// "" empties the list; the size is kept.
	if code, stdout, stderr = runCLI(t, f.env(), "settings", "set", "--image-url-allow", ""); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if body := f.requests()[1].Body; strings.TrimSpace(body) != `{"images":{"url_allow":[]}}` {
		t.Errorf("emptying body = %s", body)
	}
	if !strings.Contains(stdout, "Image URL hosts:      none") || !strings.Contains(stdout, "Image max size:       20.0GiB") {
		t.Errorf("after emptying:\n%s", stdout)
	}
	if code, _, _ = runCLI(t, f.env(), "settings", "set", "--image-max-bytes", "lots"); code != exitUsage {
		t.Errorf("--image-max-bytes lots: code %d, want %d", code, exitUsage)
	}
}
