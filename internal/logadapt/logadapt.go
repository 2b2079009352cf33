// Package logadapt routes the log lines of hashicorp/raft (hclog) and
// hashicorp/memberlist (log.Logger) into the agent's slog logger, keeping their
// levels, so there is one log stream with a component attribute.
package logadapt

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// Writer turns lines like "2026/11/26 [WARN] memberlist: ..." or hclog's
// "2026-11-26T.. [INFO]  raft: ..." into slog records at the matching level.
type Writer struct {
	Logger *slog.Logger
}

var levels = []struct {
	tag   string
	level slog.Level
}{
	{"[TRACE]", slog.LevelDebug - 4},
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// Write logs each line of p; it never fails.
func (w Writer) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		s := string(line)
		level := slog.LevelInfo
		for _, l := range levels {
			if i := strings.Index(s, l.tag); i >= 0 {
				level, s = l.level, strings.TrimSpace(s[i+len(l.tag):])
				break
			}
		}
		if w.Logger.Enabled(context.Background(), level) {
			w.Logger.Log(context.Background(), level, s)
		}
	}
	return len(p), nil
}

// HCLog returns an hclog.Logger for hashicorp/raft that writes through w at the
// level the slog logger has enabled.
func HCLog(name string, logger *slog.Logger) hclog.Logger {
	level := hclog.Info
	switch {
	case logger.Enabled(context.Background(), slog.LevelDebug):
		level = hclog.Debug
	case !logger.Enabled(context.Background(), slog.LevelInfo):
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            name,
		Level:           level,
		Output:          Writer{Logger: logger},
		DisableTime:     true,
		IncludeLocation: false,
	})
}
