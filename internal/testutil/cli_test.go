package testutil

import (
	"slices"
	"strings"
	"testing"
)

func TestRunCLI_ReturnsOutputAndExitCode(t *testing.T) {
	res := RunCLI(t, "/bin/sh", []string{"GREETING=hi"}, "-c", `echo "$GREETING out"; echo err >&2; exit 3`)
	if res.Code != 3 || res.Stdout != "hi out\n" || res.Stderr != "err\n" {
		t.Errorf("got %s\nwant exit 3, stdout %q, stderr %q", res, "hi out\n", "err\n")
	}
	if !slices.Equal(res.Args, []string{"-c", `echo "$GREETING out"; echo err >&2; exit 3`}) {
		t.Errorf("Args = %q", res.Args)
	}
}

func TestRunCLI_FailsWhenTheBinaryCannotRun(t *testing.T) {
	tb := &fakeTB{}
	RunCLI(tb, "/nonexistent/novacron", nil, "version")
	if got := tb.failed(); len(got) != 1 || !strings.Contains(got[0], "running novacron version") {
		t.Errorf("failures %q, want one saying the binary did not run", got)
	}
}

func TestCleanEnv_DropsNovacronVariables(t *testing.T) {
	t.Setenv("NOVACRON_TOKEN", "from-the-shell")
	t.Setenv("TESTUTIL_KEPT", "yes")
	env := CleanEnv("NOVACRON_ADDR=http://127.0.0.1:1")
	for _, kv := range env {
		if strings.HasPrefix(kv, "NOVACRON_") && kv != "NOVACRON_ADDR=http://127.0.0.1:1" {
			t.Errorf("CleanEnv kept %s", kv)
		}
	}
	if !slices.Contains(env, "TESTUTIL_KEPT=yes") || !slices.Contains(env, "NOVACRON_ADDR=http://127.0.0.1:1") {
		t.Errorf("CleanEnv lost other variables or the extra ones: %q", env)
	}
}
