package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// startCPUProfile is a developer's aid for the write path (docs/BENCHMARKS.md):
// with NOVACRON_CPU_PROFILE_DIR set, the agent records a CPU profile of
// NOVACRON_CPU_PROFILE_FOR (default 10s) beginning NOVACRON_CPU_PROFILE_AFTER
// (default 10s) after it starts, into DIR/NAME.cpu.pprof. Benchmarks kill
// their agents, so the profile covers a window rather than the agent's life.
func startCPUProfile(name string, logger *slog.Logger) {
	dir := os.Getenv("NOVACRON_CPU_PROFILE_DIR")
	if dir == "" {
		return
	}
	after, err1 := time.ParseDuration(envOr("NOVACRON_CPU_PROFILE_AFTER", "10s"))
	window, err2 := time.ParseDuration(envOr("NOVACRON_CPU_PROFILE_FOR", "10s"))
	if err1 != nil || err2 != nil {
		logger.Warn("cpu profile not recorded: bad NOVACRON_CPU_PROFILE_AFTER or _FOR")
		return
	}
	go func() {
		time.Sleep(after)
		path := filepath.Join(dir, name+".cpu.pprof")
		f, err := os.Create(path)
		if err != nil {
			logger.Warn("cpu profile not recorded", "error", err)
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			logger.Warn("cpu profile not recorded", "error", err)
			return
		}
		time.Sleep(window)
		pprof.StopCPUProfile()
		logger.Info("cpu profile recorded", "path", path)
	}()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
