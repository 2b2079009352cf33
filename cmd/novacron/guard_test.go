package main

import (
	"strings"
	"testing"
)

func TestGuardCommand_Usage(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{name: "help says the agent starts it", args: []string{"guard", "--help"}, wantCode: exitOK,
			wantOut: "do not start it by hand"},
		{name: "no lease", args: []string{"guard"}, wantCode: exitUsage, wantErr: "--lease is required"},
		{name: "stray argument", args: []string{"guard", "--lease", "x", "extra"}, wantCode: exitUsage,
			wantErr: "takes no arguments"},
		{name: "bad log level", args: []string{"guard", "--lease", "x", "--log-level", "loud"}, wantCode: exitUsage,
			wantErr: "--log-level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantOut) || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q / %q",
					code, stdout, stderr, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
