package testutil

import (
	"log/slog"
	"testing"
)

func TestLogger_QuietUnlessAsked(t *testing.T) {
	t.Setenv(LogEnv, "")
	if Logger(t).Enabled(t.Context(), slog.LevelError) {
		t.Error("Logger writes although " + LogEnv + " is not set")
	}
	t.Setenv(LogEnv, "1")
	if !Logger(t).Enabled(t.Context(), slog.LevelDebug) {
		t.Error("Logger does not write debug logs although " + LogEnv + " is set")
	}
}
