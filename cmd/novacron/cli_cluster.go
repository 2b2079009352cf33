package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newClusterCommand builds `novacron cluster`.
func newClusterCommand(a *app) *cobra.Command {
	return newGroupCommand("cluster", "Show the cluster: leader, members, indexes",
		newClusterVerifyCommand(a),
		&cobra.Command{
			Use:   "status",
			Short: "Show the leader, the applied index and the members",
			Long: `Show the cluster as the answering agent sees it: the leader, the Raft
indexes and term, and every gossip member with its place in the Raft
configuration.`,
			Args: exactArgs(),
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				cl, err := c.Cluster(cmd.Context())
				if err != nil {
					return err
				}
				if a.json() {
					if cl.Members == nil {
						cl.Members = []client.Member{}
					}
					return a.printData(cl)
				}
				// The members' status as node list shows it (the cluster
				// state's), so the two views never disagree unsaid.
				nodes, _ := c.Nodes(cmd.Context())
				return a.printCluster(cl, nodes)
			},
		})
}

// printCluster writes the cluster summary and its members table. A member's
// status is its node's in the cluster state (what node list shows), with
// gossip's own view beside it when the two differ; gossip's alone for a
// member the state does not hold yet.
func (a *app) printCluster(cl *client.Cluster, nodes []client.Node) error {
	status := map[string]string{}
	for _, n := range nodes {
		status[n.ID] = n.Status
	}
	leader := nameAndID(cl.Leader, cl.LeaderID)
	if leader == "" {
		leader = "none (no leader elected)"
	}
	if cl.Insecure {
		fmt.Fprintf(a.stderr, "WARNING: %s runs without TLS (--insecure): API tokens, Raft and gossip travel in clear and nodes do not authenticate each other\n\n", safe(cl.Node))
	}
	f := newFields(a.stdout)
	f.add("Cluster", cl.ID)
	f.add("Leader", leader)
	f.add("Answered by", cl.Node)
	f.add("Applied index", strconv.FormatUint(cl.AppliedIndex, 10))
	f.add("Commit index", strconv.FormatUint(cl.CommitIndex, 10))
	f.add("Term", strconv.FormatUint(cl.Term, 10))
	if len(cl.Hypervisors) > 0 {
		f.add("Hypervisors", countsText(cl.Hypervisors))
	}
	if err := f.flush(); err != nil {
		return err
	}
	if n := cl.Hypervisors[hypervisorSim]; n > 0 {
		fmt.Fprintln(a.stdout, simNote(n))
	}
	fmt.Fprintln(a.stdout)

	members := append([]client.Member(nil), cl.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	t := newTable(a.stdout, "NAME", "ID", "STATUS", "RAFT-ROLE", "LEADER", "API-ADDR")
	for _, m := range members {
		isLeader := "no"
		if m.Leader {
			isLeader = "yes"
		}
		st := m.Status
		if recorded, ok := status[m.ID]; ok && recorded != m.Status {
			st = recorded + " (gossip: " + m.Status + ")"
		} else if !ok && len(nodes) > 0 {
			st = m.Status + " (gossip)"
		}
		t.row(m.Name, a.id(m.ID), st, m.RaftRole, isLeader, m.APIAddr)
	}
	return t.flush()
}

// countsText writes counts as "libvirt 2, sim 1", by name.
func countsText(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", safe(name), counts[name])
	}
	return strings.Join(parts, ", ")
}

// simNote says what n hosts on the sim hypervisor mean, so that nobody takes
// their VMs for real ones.
func simNote(n int) string {
	if n == 1 {
		return "Note: 1 host runs the sim hypervisor (agent --dev or --hypervisor sim): it is simulated, and its VMs run nowhere."
	}
	return fmt.Sprintf("Note: %d hosts run the sim hypervisor (agent --dev or --hypervisor sim): they are simulated, and their VMs run nowhere.", n)
}
