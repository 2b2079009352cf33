package cluster

// Status is a node's view of the cluster, for GET /api/v1/cluster.
type Status struct {
	ClusterID  string
	LeaderID   string
	LeaderName string
	LocalID    string
	LocalName  string
	Members    []MemberStatus
	// AppliedIndex is this node's FSM index; CommitIndex and Term are Raft's.
	AppliedIndex uint64
	CommitIndex  uint64
	Term         uint64
	// Insecure is true when this node runs without TLS (agent --insecure):
	// its Raft, gossip and internal calls are neither encrypted nor
	// authenticated.
	Insecure bool
}

// MemberStatus is one gossip member and its place in the Raft configuration.
type MemberStatus struct {
	ID   string
	Name string
	// Status is alive, suspect, failed or left (gossip's view).
	Status string
	// RaftRole is "voter", "nonvoter" or "none".
	RaftRole string
	Leader   bool
	RaftAddr string
	APIAddr  string
	// GossipKeys are the fingerprints of the gossip keys the member holds,
	// primary first, as it publishes them; none for clear-text gossip.
	GossipKeys []string
}
