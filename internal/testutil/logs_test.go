package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastLines_KeepsTheLastN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
	} {
		if got := LastLines(tc.in, tc.n); got != tc.want {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestLogTail_SaysWhyWhenTheFileIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	if got := LogTail(path, 3); !strings.HasPrefix(got, "(no log: ") {
		t.Errorf("LogTail of a missing file = %q, want the reason", got)
	}
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := LogTail(path, 2); got != "two\nthree" {
		t.Errorf("LogTail = %q, want %q", got, "two\nthree")
	}
}
