package main

import (
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"
	"time"
)

// startCPUProfile is a developer's aid for the write path (docs/BENCHMARKS.md):
// with NOVACRON_CPU_PROFILE_DIR set, the agent records a CPU profile of
// NOVACRON_CPU_PROFILE_FOR (default 10s) beginning NOVACRON_CPU_PROFILE_AFTER
// (default 10s) after it starts, into DIR/NAME.cpu.pprof; with
// NOVACRON_CPU_PROFILE_AFTER=SIGUSR1 it begins when the agent receives that
// signal (a benchmark marks the phase it measures). Benchmarks kill
// their agents, so the profile covers a window rather than the agent's life;
// the returned stop ends a window still open when the agent stops (the
// benchmarks stop their agents with SIGTERM when the variable is set). With
// NOVACRON_TRACE=1 it also records an execution trace of the same window into
// DIR/NAME.trace: where requests wait rather than where CPU goes
// (`go tool trace -pprof=sched`, `-pprof=sync`).
func startCPUProfile(name string, logger *slog.Logger) (stop func()) {
	dir := os.Getenv("NOVACRON_CPU_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	stopped := make(chan struct{})
	finished := make(chan struct{})
	var once sync.Once
	stop = func() {
		once.Do(func() { close(stopped) })
		<-finished
	}
	begin := make(chan os.Signal, 1)
	afterText := envOr("NOVACRON_CPU_PROFILE_AFTER", "10s")
	after, err1 := time.Duration(0), error(nil)
	if afterText == "SIGUSR1" {
		signal.Notify(begin, syscall.SIGUSR1)
	} else if after, err1 = time.ParseDuration(afterText); err1 == nil {
		time.AfterFunc(after, func() { begin <- syscall.SIGUSR1 })
	}
	window, err2 := time.ParseDuration(envOr("NOVACRON_CPU_PROFILE_FOR", "10s"))
	if err1 != nil || err2 != nil {
		logger.Warn("cpu profile not recorded: bad NOVACRON_CPU_PROFILE_AFTER or _FOR")
		return func() {}
	}
	go func() {
		defer close(finished)
		select {
		case <-begin:
		case <-stopped:
			return
		}
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
		if os.Getenv("NOVACRON_TRACE") != "" {
			stopTrace := startTrace(filepath.Join(dir, name+".trace"), logger)
			defer stopTrace()
		}
		select {
		case <-time.After(window):
		case <-stopped:
		}
		pprof.StopCPUProfile()
		logger.Info("cpu profile recorded", "path", path)
	}()
	return stop
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// startTrace records an execution trace into path until the returned stop.
func startTrace(path string, logger *slog.Logger) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		logger.Warn("trace not recorded", "error", err)
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		logger.Warn("trace not recorded", "error", err)
		return func() {}
	}
	return func() {
		trace.Stop()
		f.Close()
		logger.Info("trace recorded", "path", path)
	}
}
