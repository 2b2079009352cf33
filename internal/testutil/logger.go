package testutil

import (
	"log/slog"
	"os"
	"testing"
)

// LogEnv is the environment variable that makes Logger write: set it (to
// anything) to see the debug logs of in-process agents while a test runs.
const LogEnv = "NOVACRON_TEST_LOG"

// Logger returns the logger for code under test: it discards everything unless
// LogEnv is set, then writes debug and up to stderr. Stderr, not tb.Log: an
// agent's goroutines may log after the test has ended, which tb.Log forbids.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv(LogEnv) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
