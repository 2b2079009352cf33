package testutil

import (
	"os"
	"testing"
)

// TestMain removes the binary TestBuildBinary_BuildsOnceAndRuns built.
func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}
