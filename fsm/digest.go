package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// Digest is a fingerprint of the whole replicated state at one applied index.
// Two nodes that applied the same log hold the same state, so at the same index
// they must show the same digest; a difference means a replica diverged. It is
// how an operator (and the real-process chaos tests) checks every node's FSM
// without copying it around.
type Digest struct {
	AppliedIndex uint64 `json:"applied_index"`
	// SHA256 is the hex SHA-256 of the snapshot's header (without its index) and
	// its records, sorted: the same state hashes the same whatever the order of
	// the maps it lives in.
	SHA256 string `json:"sha256"`
	// Counts of the entities hashed, so a difference can be narrowed down.
	Nodes      int `json:"nodes"`
	VMs        int `json:"vms"`
	Tokens     int `json:"tokens"`
	Migrations int `json:"migrations"`
	Failovers  int `json:"failovers"`
	Removals   int `json:"removals"`
	Projects   int `json:"projects"`
	Users      int `json:"users"`
	Sessions   int `json:"sessions"`
	Roles      int `json:"roles"`
	Audit      int `json:"audit"`
	Pools      int `json:"pools"`
	Images     int `json:"images"`
	Volumes    int `json:"volumes"`
	// Alerting: rules, alerts, silences and targets together.
	Alerting int `json:"alerting"`
}

// Digest computes the state's digest. The state is copied under the read lock
// (as for a snapshot) and hashed outside it.
func (f *FSM) Digest() (Digest, error) {
	s, err := f.Snapshot()
	if err != nil {
		return Digest{}, err
	}
	snap := s.(*snapshot)
	d := Digest{AppliedIndex: snap.header.Index}
	header := snap.header
	header.Index = 0
	lines := make([][]byte, 0, len(snap.records))
	for i := range snap.records {
		rec := &snap.records[i]
		switch {
		case rec.Node != nil:
			d.Nodes++
		case rec.VM != nil:
			d.VMs++
		case rec.Token != nil:
			d.Tokens++
		case rec.Migration != nil:
			d.Migrations++
		case rec.Failover != nil:
			d.Failovers++
		case rec.Removal != nil:
			d.Removals++
		case rec.Project != nil:
			d.Projects++
		case rec.User != nil:
			d.Users++
		case rec.Session != nil:
			d.Sessions++
		case rec.Role != nil:
			d.Roles++
		case rec.Audit != nil:
			d.Audit++
		case rec.Pool != nil:
			d.Pools++
		case rec.Image != nil:
			d.Images++
		case rec.Volume != nil:
			d.Volumes++
		case rec.AlertRule != nil, rec.Alert != nil, rec.Silence != nil, rec.AlertTarget != nil:
			d.Alerting++
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return Digest{}, err
		}
		lines = append(lines, b)
	}
	slices.SortFunc(lines, bytes.Compare)
	h := sha256.New()
	hb, err := json.Marshal(header)
	if err != nil {
		return Digest{}, err
	}
	h.Write(hb)
	for _, l := range lines {
		h.Write([]byte{'\n'})
		h.Write(l)
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d, nil
}
