package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// healthz answers GET /healthz, which needs no token: 200 while the process
// serves, with a missing leader shown as "".
func (s *Server) healthz(_ *http.Request, _ httprouter.Params) (any, error) {
	st := s.cluster.Status()
	return client.Health{Status: "ok", Node: s.nodeName(st), Leader: st.LeaderName, AppliedIndex: s.state.AppliedIndex()}, nil
}

// nodeName is this node's name: from the config, else as the cluster knows it.
func (s *Server) nodeName(st cluster.Status) string {
	if s.cfg.NodeName != "" {
		return s.cfg.NodeName
	}
	return st.LocalName
}

// getCluster shows the leader, the members and the indexes as this node sees them.
func (s *Server) getCluster(_ *http.Request, _ httprouter.Params) (any, error) {
	st := s.cluster.Status()
	out := client.Cluster{
		ID:           st.ClusterID,
		Leader:       st.LeaderName,
		LeaderID:     st.LeaderID,
		Node:         st.LocalName,
		Members:      make([]client.Member, 0, len(st.Members)),
		AppliedIndex: s.state.AppliedIndex(),
		CommitIndex:  st.CommitIndex,
		Term:         st.Term,
		Insecure:     st.Insecure,
	}
	if out.ID == "" {
		out.ID = s.state.Cluster().ID
	}
	if out.Node == "" {
		out.Node = s.nodeName(st)
	}
	for _, n := range s.state.Nodes() {
		if out.Hypervisors == nil {
			out.Hypervisors = map[string]int{}
		}
		out.Hypervisors[n.Hypervisor.Driver]++
	}
	for _, m := range st.Members {
		out.Members = append(out.Members, client.Member{
			ID: m.ID, Name: m.Name, Status: m.Status, RaftRole: m.RaftRole,
			Leader: m.Leader, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr, GossipKeys: m.GossipKeys,
		})
	}
	return out, nil
}

// getDigest answers this node's state digest: every node that applied the same
// index must answer the same one (see fsm.Digest). ?index and ?consistent make
// it wait first, as on any read.
func (s *Server) getDigest(_ *http.Request, _ httprouter.Params) (any, error) {
	d, err := s.state.Digest()
	if err != nil {
		return nil, err
	}
	return toClientDigest(d, s.nodeName(s.cluster.Status())), nil
}

// listNodes lists the nodes a page at a time, each with what is allocated on it.
func (s *Server) listNodes(r *http.Request, _ httprouter.Params) (any, error) {
	counts := s.state.VMCountsByNode()
	nodes := s.state.Nodes()
	set, incoming := s.state.Settings(), s.state.Incoming()
	return paginate(s, r, nodes, nodeOrder, func(n fsm.Node) client.Node {
		return toClientNode(n, set, s.state.Allocated(n.ID), incoming[n.ID], counts[n.ID])
	})
}

// nodeOrder is the node list's order: by name, then ID, as fsm.Nodes sorts.
var nodeOrder = byName(func(n fsm.Node) string { return n.Name }, func(n fsm.Node) string { return n.ID })

// getNode shows one node, named by ID or name.
func (s *Server) getNode(_ *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.clientNode(n), nil
}

// clientNode converts one node with what it holds now.
func (s *Server) clientNode(n fsm.Node) client.Node {
	return toClientNode(n, s.state.Settings(), s.state.Allocated(n.ID), s.state.Incoming()[n.ID], len(s.state.VMsOnNode(n.ID)))
}

// findNode looks a node up by ID, then by name, then by a unique ID prefix.
func (s *Server) findNode(ref string) (fsm.Node, error) {
	return findRecord(s, "node", ref, s.state.Node, s.state.NodeByName, func(n fsm.Node) string { return n.Name })
}
