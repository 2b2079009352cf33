package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleRoot_HoldsTheModulesGoMod(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "novacron")); err != nil {
		t.Errorf("module root %s has no cmd/novacron: %v", root, err)
	}
}

func TestBuildBinary_BuildsOnceAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the novacron binary; skipped with -short")
	}
	bin := BuildBinary(t)
	if again := BuildBinary(t); again != bin {
		t.Errorf("second call returned %s, want the first build %s", again, bin)
	}
	res := RunCLI(t, bin, CleanEnv(), "--help")
	if res.Code != 0 || !strings.Contains(res.Stdout+res.Stderr, "agent") {
		t.Errorf("%s\nwant exit 0 and usage naming the agent command", res)
	}
}
