// Package version holds the build's version, set with -ldflags at build time.
package version

// Version is this build's version; the Makefile sets it from git.
var Version = "0.1.0-dev"
