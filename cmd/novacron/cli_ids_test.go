package main

import (
	"go.yaml.in/yaml/v3"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// Tables show the first 8 characters of an ID, which the API accepts back as
// a prefix; --wide and -o wide show them whole.
func TestTables_ShortIDsUnlessWide(t *testing.T) {
	f := newFakeAPI(t)
	const id = "7dc7a1b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	f.vms = []*client.VM{{ID: id, Name: "web", VCPUs: 1, MemoryMiB: 256, DesiredState: "running", State: "running"}}
	_, stdout, _ := runCLI(t, f.env(), "vm", "list")
	if !strings.Contains(stdout, "web    7dc7a1b2   running") || strings.Contains(stdout, id) {
		t.Errorf("vm list shows %q, want the short ID", stdout)
	}
	for _, args := range [][]string{{"vm", "list", "--wide"}, {"-o", "wide", "vm", "list"}} {
		_, stdout, _ = runCLI(t, f.env(), args...)
		if !strings.Contains(stdout, id) {
			t.Errorf("%v shows %q, want the whole ID", args, stdout)
		}
	}
	if code, _, stderr := runCLI(t, f.env(), "-o", "xml", "vm", "list"); code != exitUsage || !strings.Contains(stderr, "want table, wide, json or yaml") {
		t.Errorf("-o xml: code %d, stderr %q", code, stderr)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if len(line) > 100 {
			t.Errorf("a line of %d columns: %q", len(line), line)
		}
	}
}

// -o yaml writes the JSON's fields, under the same names, as block YAML.
func TestOutput_YAML(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	code, stdout, stderr := runCLI(t, f.env(), "-o", "yaml", "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, stdout)
	}
	if got["name"] != "web" || got["vcpus"] != 2 || !strings.Contains(stdout, "\nname: web\n") || strings.Contains(stdout, "{") {
		t.Errorf("yaml = %v\n%s", got, stdout)
	}
}
