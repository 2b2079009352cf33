// Package alerting is the leader's alert rules: it evaluates them against
// the cluster's state and the hosts' latest samples, writes the alerts'
// states through Raft (pending → firing → acknowledged → resolved), and
// notifies the targets that match each alert (webhooks signed with HMAC,
// mail), unless a silence mutes it. It runs only on the leader; what it
// decided and what it has notified is in the replicated state, so a new
// leader carries on without notifying twice.
package alerting

import (
	"slices"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// BuiltIn are the rules every cluster has. A stored rule of the same name
// (PUT /api/v1/alert-rules/{name}) overrides one: to change its threshold,
// or to disable it.
func BuiltIn() []fsm.AlertRule {
	clear80, clear85 := 80.0, 85.0
	return []fsm.AlertRule{
		{Name: "host_failed", Kind: fsm.AlertRuleEvent, Event: "host_failed", Severity: fsm.SeverityCritical,
			Description: "a host stopped renewing its lease: its VMs are failed over or wait for it"},
		{Name: "vm_crashed", Kind: fsm.AlertRuleEvent, Event: "vm_crashed", Severity: fsm.SeverityWarning,
			Description: "a VM is in error: its host could not run it"},
		{Name: "migration_failed", Kind: fsm.AlertRuleEvent, Event: "migration_failed", Severity: fsm.SeverityWarning,
			Description: "a migration failed in the last hour"},
		{Name: "failover", Kind: fsm.AlertRuleEvent, Event: "failover", Severity: fsm.SeverityCritical,
			Description: "a host's VMs were restarted elsewhere in the last hour"},
		{Name: "quota_nearly_used", Kind: fsm.AlertRuleEvent, Event: "quota_nearly_used", Severity: fsm.SeverityWarning,
			Description: "a project uses 90% or more of a quota (resolves below 85%)"},
		{Name: "postgres_lagging", Kind: fsm.AlertRuleEvent, Event: "postgres_lagging", Severity: fsm.SeverityWarning,
			Description: "the PostgreSQL export has not kept up for 5 minutes"},
		{Name: "vm_cpu_high", Kind: fsm.AlertRuleMetric, Object: "vm", Metric: "cpu_percent", Op: ">", Threshold: 90, Clear: &clear80,
			ForSeconds: 300, Severity: fsm.SeverityWarning, Description: "a VM's vCPUs have been over 90% busy for 5 minutes"},
		{Name: "node_memory_high", Kind: fsm.AlertRuleMetric, Object: "node", Metric: "mem_used_percent", Op: ">", Threshold: 95, Clear: &clear85,
			ForSeconds: 300, Severity: fsm.SeverityWarning, Description: "a host's memory has been over 95% used for 5 minutes"},
		{Name: "node_disk_high", Kind: fsm.AlertRuleMetric, Object: "node", Metric: "disk_used_percent", Op: ">", Threshold: 90, Clear: &clear85,
			ForSeconds: 60, Severity: fsm.SeverityWarning, Description: "a host's data disk is over 90% full"},
	}
}

// Rules are the rules in force: the built-in ones, each replaced by a
// stored rule of its name, then the other stored rules; by name.
func Rules(stored []fsm.AlertRule) []fsm.AlertRule {
	out := BuiltIn()
	for i, r := range out {
		out[i].BuiltIn = true
		if j := slices.IndexFunc(stored, func(s fsm.AlertRule) bool { return s.Name == r.Name }); j >= 0 {
			out[i] = stored[j]
			out[i].BuiltIn = true
		}
	}
	for _, s := range stored {
		if !slices.ContainsFunc(out, func(r fsm.AlertRule) bool { return r.Name == s.Name }) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b fsm.AlertRule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// IsBuiltIn reports whether name is a built-in rule's.
func IsBuiltIn(name string) bool {
	return slices.ContainsFunc(BuiltIn(), func(r fsm.AlertRule) bool { return r.Name == name })
}
