package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/novacron/novacron/api/client"
)

// placementFlags are the placement flags of `vm create`.
type placementFlags struct {
	strategy     string
	selector     []string
	onNodes      []string
	preferNodes  []string
	affinity     []string
	antiAffinity []string
}

// register adds the flags to fs.
func (p *placementFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.strategy, "strategy", "", "placement strategy for this VM: binpack or spread (default: the cluster's)")
	fs.StringArrayVar(&p.selector, "node-selector", nil, "only nodes with label KEY=VALUE (repeatable)")
	fs.StringArrayVar(&p.onNodes, "on-node", nil, "only this node, by name or ID (hard; repeatable)")
	fs.StringArrayVar(&p.preferNodes, "prefer-node", nil, "rather this node, by name or ID (soft; repeatable)")
	fs.StringArrayVar(&p.affinity, "affinity", nil, "run with the VMs of GROUP; GROUP:soft only prefers it (repeatable)")
	fs.StringArrayVar(&p.antiAffinity, "anti-affinity", nil, "run apart from the VMs of GROUP; GROUP:soft only prefers it (repeatable)")
}

// spec builds the placement spec from the flags; nil when none was given.
func (p *placementFlags) spec() (*client.PlacementSpec, error) {
	switch p.strategy {
	case "", client.StrategyBinpack, client.StrategySpread:
	default:
		return nil, usagef("invalid --strategy %q: want binpack or spread", p.strategy)
	}
	sel, err := parsePairs("--node-selector", p.selector)
	if err != nil {
		return nil, err
	}
	spec := &client.PlacementSpec{Strategy: p.strategy, NodeSelector: sel, Nodes: p.onNodes, PreferredNodes: p.preferNodes}
	for _, g := range []struct {
		flag, kind string
		args       []string
	}{{"--affinity", client.GroupAffinity, p.affinity}, {"--anti-affinity", client.GroupAntiAffinity, p.antiAffinity}} {
		for _, arg := range g.args {
			rule, err := parseGroupRule(g.flag, g.kind, arg)
			if err != nil {
				return nil, err
			}
			spec.Groups = append(spec.Groups, rule)
		}
	}
	for _, refs := range [][]string{spec.Nodes, spec.PreferredNodes} {
		for _, r := range refs {
			if strings.TrimSpace(r) == "" {
				return nil, usagef("--on-node and --prefer-node need a node name or ID")
			}
		}
	}
	if spec.Strategy == "" && spec.NodeSelector == nil && spec.Nodes == nil && spec.PreferredNodes == nil && spec.Groups == nil {
		return nil, nil
	}
	return spec, nil
}

// parseGroupRule reads GROUP, GROUP:hard or GROUP:soft.
func parseGroupRule(flag, kind, arg string) (client.GroupRule, error) {
	group, mode, hasMode := strings.Cut(arg, ":")
	rule := client.GroupRule{Group: group, Kind: kind, Hard: true}
	switch {
	case group == "":
		return rule, usagef("invalid %s %q: want GROUP or GROUP:soft", flag, arg)
	case !hasMode, mode == "hard":
	case mode == "soft":
		rule.Hard = false
	default:
		return rule, usagef("invalid %s %q: the suffix may only be :soft or :hard", flag, arg)
	}
	return rule, nil
}

// printPlacementSpec writes a "Constraints:" block, or nothing without any.
func printPlacementSpec(w io.Writer, p *client.PlacementSpec) {
	if p == nil {
		return
	}
	fmt.Fprintln(w, "Constraints:")
	if p.Strategy != "" {
		printf(w, "  strategy %s\n", p.Strategy)
	}
	for _, k := range sortedKeys(p.NodeSelector) {
		printf(w, "  node label %s=%s\n", k, p.NodeSelector[k])
	}
	if len(p.Nodes) > 0 {
		printf(w, "  only on %s\n", strings.Join(p.Nodes, ", "))
	}
	if len(p.PreferredNodes) > 0 {
		printf(w, "  prefers %s\n", strings.Join(p.PreferredNodes, ", "))
	}
	for _, g := range p.Groups {
		strength := "hard"
		if !g.Hard {
			strength = "soft"
		}
		printf(w, "  %s group %s (%s)\n", g.Kind, g.Group, strength)
	}
}

// printDecision writes the last placement decision: the chosen node, the
// candidates with their scores, the rejected nodes with the reasons, and the
// rejections counted by kind.
func printDecision(w io.Writer, d *client.Decision) error {
	if d == nil {
		return nil
	}
	fmt.Fprintln(w)
	chosen := "none"
	if d.OK() {
		chosen = nameAndID(d.NodeName, d.Node)
	}
	f := newFields(w)
	f.add("Decision", chosen)
	f.add("Strategy", d.Strategy)
	f.add("Reason", d.Reason)
	f.add("Nodes", fmt.Sprintf("%d considered, %d feasible", d.Considered, d.Feasible))
	if len(d.RejectedCounts) > 0 {
		f.add("Rejected", describeCounts(d.RejectedCounts))
	}
	if d.At != nil {
		f.add("Decided", formatTime(*d.At))
	}
	if err := f.flush(); err != nil {
		return err
	}
	if len(d.Candidates) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "CANDIDATE", "SCORE", "PARTS")
		for _, c := range d.Candidates {
			t.row(orDash(c.NodeName), strconv.FormatFloat(c.Score, 'f', 3, 64), describeParts(c.Parts))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(d.Rejected) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "REJECTED", "KIND", "REASON")
		for _, r := range d.Rejected {
			t.row(orDash(r.NodeName), r.Kind, r.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// describeCounts shows rejection counts, the largest first: "memory 3, label 1".
func describeCounts(counts map[string]int) string {
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if counts[kinds[i]] != counts[kinds[j]] {
			return counts[kinds[i]] > counts[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// describeParts shows a score's terms in name order: "affinity=1.000 strategy=0.420".
func describeParts(parts map[string]float64) string {
	names := make([]string, 0, len(parts))
	for k := range parts {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, k := range names {
		out[i] = k + "=" + strconv.FormatFloat(parts[k], 'f', 3, 64)
	}
	return strings.Join(out, " ")
}
