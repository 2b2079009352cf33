package main

import (
	"fmt"
	"sort"
	"strconv"

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
					return printJSON(a.stdout, cl)
				}
				return a.printCluster(cl)
			},
		})
}

// printCluster writes the cluster summary and its members table.
func (a *app) printCluster(cl *client.Cluster) error {
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
	if err := f.flush(); err != nil {
		return err
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
		t.row(m.Name, m.ID, m.Status, m.RaftRole, isLeader, m.APIAddr)
	}
	return t.flush()
}
