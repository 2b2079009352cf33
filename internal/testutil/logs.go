package testutil

import (
	"os"
	"strings"
)

// LogTail returns the last n lines of the file at path (an agent's log), for a
// failure message; when the file cannot be read it says why instead.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return LastLines(string(b), n)
}

// LastLines returns the last n lines of s, without its final newline.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
