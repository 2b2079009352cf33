package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// agentFlagGroups sorts the agent's flags by topic for --help: forty flags
// in one alphabetical list hide the five a newcomer needs.
// TestAgentHelp_EveryFlagInOneGroup keeps it complete.
var agentFlagGroups = []struct {
	title string
	flags []string
}{
	{"Cluster", []string{"name", "data-dir", "bind", "advertise", "gossip-port", "raft-port", "http-port",
		"join", "bootstrap-expect", "voters", "label", "config", "log-level"}},
	{"Hypervisor", []string{"hypervisor", "libvirt-uri", "libvirt-peer-uri", "libvirt-peer-schemes", "virt-type",
		"vcpus", "memory-mib", "cpu-overcommit", "migrate-uri", "image-dir", "console-log-dir", "stop-timeout"}},
	{"High availability", []string{"fence-timeout", "heartbeat-interval", "watchdog"}},
	{"Observability", []string{"event-history", "metrics-interval", "postgres-dsn", "postgres-dsn-file", "smtp-addr", "smtp-from"}},
	{"Security", []string{"tls-ca", "tls-cert", "tls-key", "tls-ca-key", "insecure", "join-token",
		"bootstrap-token", "bootstrap-token-file", "gossip-key", "gossip-key-file", "metrics-token-file"}},
	{"Logins through an identity provider", []string{"oidc-issuer", "oidc-client-id", "oidc-username-claim", "oidc-groups-claim"}},
	{"Dev mode and simulation", []string{"dev", "sim-vcpus", "sim-memory-mib", "sim-disk-gib", "sim-fleet"}},
}

// agentUsage prints the agent's usage with its flags in agentFlagGroups.
func agentUsage(cmd *cobra.Command) error {
	w := cmd.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", cmd.UseLine())
	for _, g := range agentFlagGroups {
		fs := pflag.NewFlagSet(g.title, pflag.ContinueOnError)
		for _, name := range g.flags {
			if f := cmd.Flags().Lookup(name); f != nil {
				fs.AddFlag(f)
			}
		}
		fmt.Fprintf(w, "\n%s flags:\n%s", g.title, fs.FlagUsages())
	}
	if inherited := cmd.InheritedFlags().FlagUsages(); strings.TrimSpace(inherited) != "" {
		fmt.Fprintf(w, "\nGlobal flags:\n%s", inherited)
	}
	return nil
}
