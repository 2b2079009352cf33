package alerting

import (
	"fmt"
	"strings"
	"time"

	"github.com/novacron/novacron/fsm"
)

// State is what the rules read of the cluster (*fsm.FSM).
type State interface {
	AlertRules() []fsm.AlertRule
	Alerts() []fsm.Alert
	Silences() []fsm.Silence
	AlertTargets() []fsm.AlertTarget
	Nodes() []fsm.Node
	VMs() []fsm.VM
	Migrations() []fsm.Migration
	Failovers() []fsm.Failover
	Projects() []fsm.Project
	Project(name string) (fsm.Project, fsm.Usage, error)
}

// Latest are the hosts' newest samples: series key ("vm/<id>",
// "node/<id>") → field → value.
type Latest map[string]map[string]float64

// ExportStatus says how far the PostgreSQL export is behind, when one runs.
type ExportStatus struct {
	Lagging bool
	Since   time.Time
	Detail  string
}

// recent is how long an event alert (a failed migration, a failover) stays.
const recent = time.Hour

// observe applies every enabled rule to the state and the samples.
func observe(now time.Time, rules []fsm.AlertRule, st State, latest Latest, export *ExportStatus) []observation {
	var out []observation
	for _, r := range rules {
		if r.Disabled {
			continue
		}
		switch r.Kind {
		case fsm.AlertRuleMetric:
			out = append(out, observeMetric(r, st, latest)...)
		case fsm.AlertRuleEvent:
			out = append(out, observeEvent(now, r, st, export)...)
		}
	}
	return out
}

func observeMetric(r fsm.AlertRule, st State, latest Latest) []observation {
	var out []observation
	add := func(kind, id, name, project string, fields map[string]float64) {
		v, ok := metricValue(r.Metric, fields)
		if !ok {
			return
		}
		out = append(out, observation{rule: r, objectType: kind, objectID: id, objectName: name, project: project, value: v,
			verdict: compare(r, v), message: fmt.Sprintf("%s of %s %s is %.4g (%s %g)", r.Metric, kind, name, v, r.Op, r.Threshold)})
	}
	switch r.Object {
	case "vm":
		for _, vm := range st.VMs() {
			if r.Project != "" && vm.Project != r.Project {
				continue
			}
			if fields, ok := latest["vm/"+vm.ID]; ok {
				add("vm", vm.ID, vm.Spec.Name, vm.Project, fields)
			}
		}
	case "node":
		for _, n := range st.Nodes() {
			if fields, ok := latest["node/"+n.ID]; ok && n.Status != fsm.NodeLeft {
				add("node", n.ID, n.Name, "", fields)
			}
		}
	}
	return out
}

// metricValue reads a field, or a share computed from two: mem_used_percent
// and disk_used_percent.
func metricValue(metric string, fields map[string]float64) (float64, bool) {
	share := func(used, total string) (float64, bool) {
		u, ok1 := fields[used]
		t, ok2 := fields[total]
		if !ok1 || !ok2 || t <= 0 {
			return 0, false
		}
		return 100 * u / t, true
	}
	switch metric {
	case "mem_used_percent":
		if v, ok := share("mem_used_bytes", "mem_total_bytes"); ok {
			return v, true
		}
		return share("mem_used_bytes", "mem_max_bytes")
	case "disk_used_percent":
		return share("disk_used_bytes", "disk_total_bytes")
	}
	v, ok := fields[metric]
	return v, ok
}

func observeEvent(now time.Time, r fsm.AlertRule, st State, export *ExportStatus) []observation {
	var out []observation
	obs := func(kind, id, name, project string, v verdict, msg string) {
		if r.Project != "" && project != r.Project {
			return
		}
		out = append(out, observation{rule: r, objectType: kind, objectID: id, objectName: name, project: project, verdict: v, message: msg})
	}
	switch r.Event {
	case "host_failed":
		for _, n := range st.Nodes() {
			if n.Status == fsm.NodeLeft {
				continue
			}
			v := clear
			if n.Status == fsm.NodeFailed {
				v = holds
			}
			obs("node", n.ID, n.Name, "", v, "host "+n.Name+" is "+string(n.Status))
		}
	case "vm_crashed":
		for _, vm := range st.VMs() {
			v := clear
			if vm.State == fsm.VMError {
				v = holds
			}
			obs("vm", vm.ID, vm.Spec.Name, vm.Project, v, "vm "+vm.Spec.Name+" is "+string(vm.State))
		}
	case "migration_failed":
		projects := vmProjects(st)
		for _, m := range st.Migrations() {
			if m.State == fsm.MigrationFailed && now.Sub(m.FinishedAt) < recent {
				obs("migration", m.ID, m.VMName, projects[m.VMID], holds, "the migration of vm "+m.VMName+" failed")
			}
		}
	case "failover":
		for _, f := range st.Failovers() {
			if now.Sub(f.DetectedAt) < recent {
				obs("failover", f.ID, f.NodeName, "", holds, fmt.Sprintf("host %s failed over %d VM(s): %s", f.NodeName, len(f.VMs), f.Cause))
			}
		}
	case "quota_nearly_used":
		for _, p := range st.Projects() {
			_, use, err := st.Project(p.Name)
			if err != nil {
				continue
			}
			share, what := quotaShare(p.Quota, use)
			if what == "" {
				continue
			}
			v := keep
			switch {
			case share >= 90:
				v = holds
			case share < 85:
				v = clear
			}
			obs("project", p.Name, p.Name, p.Name, v, fmt.Sprintf("project %s uses %.0f%% of its %s quota", p.Name, share, what))
		}
	case "postgres_lagging":
		if export == nil {
			return nil
		}
		v := clear
		if export.Lagging && now.Sub(export.Since) >= 5*time.Minute {
			v = holds
		}
		obs("export", "postgres", "postgres", "", v, "the PostgreSQL export lags: "+export.Detail)
	}
	return out
}

// quotaShare is the largest share of a quota in use, and which.
func quotaShare(q fsm.Quota, u fsm.Usage) (float64, string) {
	var best float64
	var what []string
	for _, d := range []struct {
		name string
		max  *int64
		used int64
	}{{"vcpus", q.VCPUs, u.VCPUs}, {"memory", q.MemoryMiB, u.MemoryMiB}, {"disk", q.DiskGiB, u.DiskGiB}, {"vms", q.VMs, u.VMs}} {
		if d.max == nil || *d.max <= 0 {
			continue
		}
		share := 100 * float64(d.used) / float64(*d.max)
		if share > best || len(what) == 0 {
			best, what = share, []string{d.name}
		}
	}
	return best, strings.Join(what, "")
}

func vmProjects(st State) map[string]string {
	out := map[string]string{}
	for _, vm := range st.VMs() {
		out[vm.ID] = vm.Project
	}
	return out
}
