package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in      string
		unitMiB int64
		want    int64
	}{
		{"512", 1, 512}, {"512M", 1, 512}, {"512MiB", 1, 512}, {"1G", 1, 1024}, {"2gib", 1, 2048}, {"1T", 1, 1 << 20},
		{"20", 1024, 20}, {"20G", 1024, 20}, {"1T", 1024, 1024}, {"2048M", 1024, 2},
	} {
		if got, err := parseSize(c.in, c.unitMiB); err != nil || got != c.want {
			t.Errorf("parseSize(%q, %d) = %d, %v; want %d", c.in, c.unitMiB, got, err, c.want)
		}
	}
	for _, c := range []struct {
		in      string
		unitMiB int64
		says    string
	}{
		{"512M", 1024, "not a whole number of GiB"}, {"1X", 1, "unknown unit"}, {"-1G", 1, "not a size"},
		{"G", 1, "not a size"}, {"99999999999999999T", 1, "too large"},
	} {
		if _, err := parseSize(c.in, c.unitMiB); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("parseSize(%q): %v, want it to say %q", c.in, err, c.says)
		}
	}
}

func TestParseDuration_TakesDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0": 0} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "x3d", "3days", "1d-1h"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

// The flags take units, and a bad one is a usage error naming the flag.
func TestVMCreate_SizesWithUnits(t *testing.T) {
	f := newFakeAPI(t)
	if code, _, stderr := runCLI(t, f.env(), "vm", "create", "db", "--memory", "2G", "--disk", "1T"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	if got["memory_mib"] != 2048.0 || got["disk_gib"] != 1024.0 {
		t.Errorf("body %v, want memory_mib 2048 and disk_gib 1024", got)
	}
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "db2", "--disk", "512M")
	if code != exitUsage || !strings.Contains(stderr, "--disk") || !strings.Contains(stderr, "not a whole number of GiB") {
		t.Errorf("--disk 512M: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "token", "create", "ci", "--ttl", "soon")
	if code != exitUsage || !strings.Contains(stderr, "--ttl") {
		t.Errorf("--ttl soon: code %d, stderr %q", code, stderr)
	}
}

// A refusal of a field names the flag the user typed.
func TestVMCreate_ErrorsNameTheFlag(t *testing.T) {
	f := newFakeAPI(t)
	f.failCreate = &apiErr{400, "invalid", "memory_mib must be between 1 and 16777216, got 99999999"}
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "db", "--memory", "99999999")
	if code != exitError || !strings.HasPrefix(stderr, "Error: --memory must be between 1 and 16777216") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

// A size the refusal quotes gets its unit: the user may have typed 900G.
func TestVMCreate_ErrorsGiveTheSizeItsUnit(t *testing.T) {
	f := newFakeAPI(t)
	f.failCreate = &apiErr{400, "invalid", "memory_mib 921600 is more than any node has (the largest has 16384 MiB)"}
	code, _, stderr := runCLI(t, f.env(), "vm", "create", "db", "--memory", "900G")
	if want := "Error: --memory 921600 MiB is more than any node has (the largest has 16384 MiB)"; code != exitError || !strings.HasPrefix(stderr, want) {
		t.Errorf("code %d, stderr %q, want %q", code, stderr, want)
	}
}
