package fsm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"slices"

	"github.com/hashicorp/raft"
)

// snapshotVersion is the format of the snapshot stream this build writes
// (snapshot_records.go); Restore reads it and version 1.
const snapshotVersion = snapshotBinary

// snapshotHeader opens the stream.
type snapshotHeader struct {
	Version int         `json:"version"`
	Index   uint64      `json:"index"`
	Cluster ClusterInfo `json:"cluster"`
	// Settings are absent (zero) in snapshots written before settings existed.
	Settings Settings `json:"settings"`
	// GossipKeyring is absent when gossip is clear text (or the first leader
	// has not recorded it yet).
	GossipKeyring *Keyring `json:"gossip_keyring,omitempty"`
}

// snapshotRecord is one entity in the stream; exactly one field is set.
type snapshotRecord struct {
	Node      *Node        `json:"node,omitempty"`
	VM        *VM          `json:"vm,omitempty"`
	Token     *Token       `json:"token,omitempty"`
	Migration *Migration   `json:"migration,omitempty"`
	Failover  *Failover    `json:"failover,omitempty"`
	JoinToken *JoinToken   `json:"join_token,omitempty"`
	Removal   *Removal     `json:"removal,omitempty"`
	Project   *Project     `json:"project,omitempty"`
	User      *User        `json:"user,omitempty"`
	Session   *Session     `json:"session,omitempty"`
	Role      *Role        `json:"role,omitempty"`
	Audit     *AuditEntry  `json:"audit,omitempty"`
	Pool      *StoragePool `json:"pool,omitempty"`
	Image     *Image       `json:"image,omitempty"`
	Volume    *Volume      `json:"volume,omitempty"`
	// Alerting (alert_types.go).
	AlertRule   *AlertRule   `json:"alert_rule,omitempty"`
	Alert       *Alert       `json:"alert,omitempty"`
	Silence     *Silence     `json:"silence,omitempty"`
	AlertTarget *AlertTarget `json:"alert_target,omitempty"`
}

// snapshot is a point-in-time copy of the state, written out by Persist while
// the FSM goes on applying.
type snapshot struct {
	header  snapshotHeader
	records []snapshotRecord
}

// Snapshot copies the state under the read lock; raft writes it out later.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := &snapshot{header: snapshotHeader{Version: snapshotVersion, Index: f.applied, Cluster: f.s.cluster, Settings: f.s.settings}}
	if f.s.keyring.Encrypted() {
		kr := f.s.keyring.Clone()
		snap.header.GossipKeyring = &kr
	}
	snap.records = make([]snapshotRecord, 0, len(f.s.nodes)+len(f.s.vms)+len(f.s.tokens))
	for _, n := range f.s.nodes {
		c := cloneNode(n)
		snap.records = append(snap.records, snapshotRecord{Node: &c})
	}
	for _, vm := range f.s.vms {
		c := cloneVM(vm)
		snap.records = append(snap.records, snapshotRecord{VM: &c})
	}
	for _, t := range f.s.tokens {
		c := *t
		snap.records = append(snap.records, snapshotRecord{Token: &c})
	}
	for _, m := range f.s.migrations {
		c := cloneMigration(m)
		snap.records = append(snap.records, snapshotRecord{Migration: &c})
	}
	for _, fo := range f.s.failovers {
		c := cloneFailover(fo)
		snap.records = append(snap.records, snapshotRecord{Failover: &c})
	}
	for _, t := range f.s.joinTokens {
		c := *t
		c.Enrolled = append([]string(nil), t.Enrolled...)
		snap.records = append(snap.records, snapshotRecord{JoinToken: &c})
	}
	for _, r := range f.s.removals {
		c := *r
		snap.records = append(snap.records, snapshotRecord{Removal: &c})
	}
	for _, u := range f.s.users {
		c := *u
		snap.records = append(snap.records, snapshotRecord{User: &c})
	}
	for _, ses := range f.s.sessions {
		c := *ses
		snap.records = append(snap.records, snapshotRecord{Session: &c})
	}
	for _, p := range f.s.projects {
		c := *p
		c.Quota = p.Quota.clone()
		c.Members = slices.Clone(p.Members)
		snap.records = append(snap.records, snapshotRecord{Project: &c})
	}
	for _, e := range f.s.audit.entries() {
		snap.records = append(snap.records, snapshotRecord{Audit: &e})
	}
	for _, p := range f.s.pools {
		c := *p
		snap.records = append(snap.records, snapshotRecord{Pool: &c})
	}
	for _, img := range f.s.images {
		c := cloneImage(img)
		snap.records = append(snap.records, snapshotRecord{Image: &c})
	}
	for _, v := range f.s.volumes {
		c := *v
		snap.records = append(snap.records, snapshotRecord{Volume: &c})
	}
	for _, r := range f.s.roles {
		c := *r
		c.Permissions = slices.Clone(r.Permissions)
		snap.records = append(snap.records, snapshotRecord{Role: &c})
	}
	// Alerting entities are replaced whole on every change, never changed
	// in place: a shallow copy is the snapshot's own.
	for _, r := range f.s.alertRules {
		c := *r
		snap.records = append(snap.records, snapshotRecord{AlertRule: &c})
	}
	for _, a := range f.s.alerts {
		c := *a
		snap.records = append(snap.records, snapshotRecord{Alert: &c})
	}
	for _, si := range f.s.silences {
		c := *si
		snap.records = append(snap.records, snapshotRecord{Silence: &c})
	}
	for _, t := range f.s.alertTargets {
		c := *t
		snap.records = append(snap.records, snapshotRecord{AlertTarget: &c})
	}
	return snap, nil
}

// Persist writes the snapshot: the header as a JSON line, then one binary
// record per entity (snapshot_records.go).
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := json.NewEncoder(bw).Encode(s.header); err != nil {
		return err
	}
	var buf []byte
	for i := range s.records {
		var err error
		if buf, err = writeBinaryRecord(bw, &s.records[i], buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// jsonRecords reads version-1 records, one JSON line each.
type jsonRecords struct{ lines snapshotLines }

func (j *jsonRecords) next(r *snapshotRecord) error { return j.lines.next(r) }

// Release is a no-op: the snapshot holds only its own copies.
func (s *snapshot) Release() {}

// snapshotLines reads a snapshot stream one JSON line at a time, as write wrote it.
type snapshotLines struct{ r *bufio.Reader }

// next decodes the next non-blank line into v; io.EOF means the stream ended
// cleanly. A last line without its newline is still decoded, so a truncated
// record fails rather than vanishing.
func (l *snapshotLines) next(v any) error {
	for {
		line, err := l.r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			return decodeJSON(line, v)
		}
		if err != nil {
			return err
		}
	}
}

// Restore replaces the whole state with a snapshot's. It builds a fresh state and
// swaps it in under the lock, so readers see either the old state or the new one.
// Each line is decoded by decodeJSON, as log entries are: a field this node does
// not know is ignored, a record with no entity kind it knows fails the restore.
//
// A damaged stream fails the restore and leaves the state as it was: a line
// that does not decode, a record without its ID, or two records of one kind
// with the same ID (or two VMs with one name, two tokens with one secret), which
// would leave indexes that no log could have built. A panic while building
// the fresh state is a bug, but it touched nothing live, so it is returned as
// an error too.
func (f *FSM) Restore(rc io.ReadCloser) (err error) {
	defer rc.Close()
	defer func() {
		if r := recover(); r != nil {
			logger().Error("BUG: restoring a snapshot panicked; the restore failed", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("restore: damaged snapshot: %v", r)
		}
	}()
	br := bufio.NewReaderSize(rc, 1<<16)
	lines := snapshotLines{r: br}
	var h snapshotHeader
	if err := lines.next(&h); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("restore: read snapshot header: %w", err)
	}
	var records interface{ next(*snapshotRecord) error }
	switch h.Version {
	case snapshotJSONLines:
		records = &jsonRecords{lines}
	case snapshotBinary:
		records = &binaryRecords{br}
	default:
		return fmt.Errorf("restore: snapshot format %d is not supported (this node reads %d and %d)", h.Version, snapshotJSONLines, snapshotBinary)
	}
	s := newState()
	// The snapshot's projects replace newState's default one; a snapshot
	// written before projects existed has none, and gets it back below.
	defaultProject := s.projects[DefaultProject]
	delete(s.projects, DefaultProject)
	s.cluster = h.Cluster
	s.settings = h.Settings.WithDefaults()
	if kr := h.GossipKeyring; kr != nil {
		if err := kr.Validate(); err != nil {
			return fmt.Errorf("restore: gossip keyring: %w", err)
		}
		s.keyring = kr.Clone()
	}
	for n := 0; ; n++ {
		var r snapshotRecord
		err := records.next(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("restore: record %d: %w", n, err)
		}
		if err := s.checkRecord(&r); err != nil {
			return fmt.Errorf("restore: record %d: %w", n, err)
		}
		switch {
		case r.Node != nil:
			s.nodes[r.Node.ID] = r.Node
		case r.VM != nil:
			r.VM.Project = projectOf(r.VM.Project) // written before projects: default
			s.vms[r.VM.ID] = r.VM
			s.countVM(r.VM, 1)
			s.nameVM(r.VM)
			s.use(r.VM, 1)
			s.reserve(r.VM)
			s.index(r.VM)
		case r.Token != nil:
			s.tokens[r.Token.ID] = r.Token
			s.tokenByHash[r.Token.Hash] = r.Token.ID
		case r.Migration != nil:
			s.migrations[r.Migration.ID] = r.Migration
		case r.Failover != nil:
			s.failovers[r.Failover.ID] = r.Failover
		case r.JoinToken != nil:
			s.joinTokens[r.JoinToken.ID] = r.JoinToken
		case r.Removal != nil:
			s.putRemoval(r.Removal)
		case r.Project != nil:
			s.projects[r.Project.Name] = r.Project
		case r.User != nil:
			s.users[r.User.Name] = r.User
		case r.Session != nil:
			s.sessions[r.Session.ID] = r.Session
			s.sessionByHash[r.Session.Hash] = r.Session.ID
		case r.Role != nil:
			s.roles[r.Role.Name] = r.Role
		case r.Pool != nil:
			s.pools[r.Pool.Name] = r.Pool
		case r.Image != nil:
			s.images[r.Image.ID] = r.Image
		case r.Volume != nil:
			s.volumes[r.Volume.ID] = r.Volume
		case r.AlertRule != nil:
			s.alertRules[r.AlertRule.Name] = r.AlertRule
		case r.Alert != nil:
			s.alerts[r.Alert.ID] = r.Alert
		case r.Silence != nil:
			s.silences[r.Silence.ID] = r.Silence
		case r.AlertTarget != nil:
			s.alertTargets[r.AlertTarget.Name] = r.AlertTarget
		case r.Audit != nil:
			// Records come oldest first; the ring takes them all, and the
			// settings' bound applies from the next entry on.
			s.audit.buf = append(s.audit.buf, *r.Audit)
			s.auditSeq = max(s.auditSeq, r.Audit.Seq)
		default:
			// Like an unknown command type: skipping an entity kind would lose it.
			return fmt.Errorf("restore: record %d holds no entity kind this node knows (written by a newer node? upgrade this one)", n)
		}
	}
	if _, ok := s.projects[DefaultProject]; !ok {
		s.projects[DefaultProject] = defaultProject
	}
	s.compileBindings()
	for _, vm := range s.vms {
		if _, ok := s.projects[vm.Project]; !ok {
			return fmt.Errorf("restore: vm %q belongs to project %q, which the snapshot lacks", vm.ID, vm.Project)
		}
		s.shareStrings(vm.Decision)
	}
	for _, v := range s.volumes {
		if _, ok := s.projects[v.Project]; !ok {
			return fmt.Errorf("restore: volume %q belongs to project %q, which the snapshot lacks", v.ID, v.Project)
		}
		s.useDisk(v.Project, v.SizeGiB)
		if v.VM != "" {
			s.vmVolumes[v.VM] = append(s.vmVolumes[v.VM], v.ID)
		}
	}
	// Reservations of migrations under way need their VMs, so they come last.
	for _, m := range s.migrations {
		if vm, ok := s.vms[m.VMID]; ok && !m.State.Final() {
			s.active[m.ID] = struct{}{}
			s.addIncoming(m.Target, vm.Spec, 1)
		}
	}
	f.mu.Lock()
	f.s = s
	f.limits.Store(nil)
	f.capacityEpoch.Add(1)
	f.applied = h.Index
	ch := f.appliedCh
	f.appliedCh = make(chan struct{})
	f.mu.Unlock()
	close(ch)
	if o := f.observer.Load(); o != nil {
		(*o).Restored(h.Index)
	}
	f.publish(Event{Index: h.Index, Kind: "restore"})
	return nil
}

// checkRecord refuses a snapshot record that the state being restored cannot
// take as it is: one holding several entities, one without an ID, or whose ID (a VM's name, a token's secret)
// an earlier record already holds.
func (s *state) checkRecord(r *snapshotRecord) error {
	kinds := 0
	for _, set := range []bool{r.Node != nil, r.VM != nil, r.Token != nil, r.Migration != nil, r.Failover != nil, r.JoinToken != nil, r.Removal != nil, r.Project != nil, r.User != nil, r.Session != nil, r.Role != nil, r.Audit != nil, r.Pool != nil, r.Image != nil, r.Volume != nil,
		r.AlertRule != nil, r.Alert != nil, r.Silence != nil, r.AlertTarget != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return fmt.Errorf("a record holds %d entities, one is written per line", kinds)
	}
	var kind, id string
	var dup bool
	switch {
	case r.Node != nil:
		kind, id = "node", r.Node.ID
		_, dup = s.nodes[id]
	case r.VM != nil:
		kind, id = "vm", r.VM.ID
		_, dup = s.vms[id]
		if _, taken := s.vmByName[nameKey(projectOf(r.VM.Project), r.VM.Spec.Name)]; taken && !dup {
			return fmt.Errorf("vm %q: name %q is held by another vm of its project", id, r.VM.Spec.Name)
		}
	case r.Token != nil:
		kind, id = "token", r.Token.ID
		_, dup = s.tokens[id]
		if _, taken := s.tokenByHash[r.Token.Hash]; taken && !dup {
			return fmt.Errorf("token %q: its secret is held by another token", id)
		}
	case r.Migration != nil:
		kind, id = "migration", r.Migration.ID
		_, dup = s.migrations[id]
	case r.Failover != nil:
		kind, id = "failover", r.Failover.ID
		_, dup = s.failovers[id]
	case r.JoinToken != nil:
		kind, id = "join token", r.JoinToken.ID
		_, dup = s.joinTokens[id]
	case r.Project != nil:
		kind, id = "project", r.Project.Name
		_, dup = s.projects[id]
		if err := ValidateProject(r.Project); err != nil {
			return err
		}
		if !dup && len(s.projects) >= MaxProjects {
			return fmt.Errorf("more than %d project records", MaxProjects)
		}
	case r.User != nil:
		kind, id = "user", r.User.Name
		_, dup = s.users[id]
		if err := ValidateUser(r.User); err != nil {
			return err
		}
	case r.Session != nil:
		kind, id = "session", r.Session.ID
		_, dup = s.sessions[id]
		if _, taken := s.sessionByHash[r.Session.Hash]; taken && !dup {
			return fmt.Errorf("session %q: its secret is held by another session", id)
		}
	case r.Audit != nil:
		if n := len(s.audit.buf); n > 0 && r.Audit.Seq <= s.audit.buf[n-1].Seq {
			return fmt.Errorf("audit entry %d comes after entry %d", r.Audit.Seq, s.audit.buf[n-1].Seq)
		}
		if len(s.audit.buf) >= MaxAuditEntries {
			return fmt.Errorf("more than %d audit entries", MaxAuditEntries)
		}
		return nil
	case r.Role != nil:
		kind, id = "role", r.Role.Name
		_, dup = s.roles[id]
		if err := ValidateRole(r.Role); err != nil {
			return err
		}
		if !dup && len(s.roles) >= MaxRoles {
			return fmt.Errorf("more than %d role records", MaxRoles)
		}
	case r.Pool != nil:
		kind, id = "pool", r.Pool.Name
		_, dup = s.pools[id]
		if err := ValidatePool(r.Pool); err != nil {
			return err
		}
		if !dup && len(s.pools) >= MaxPools {
			return fmt.Errorf("more than %d pool records", MaxPools)
		}
	case r.Image != nil:
		kind, id = "image", r.Image.ID
		_, dup = s.images[id]
		if !dup && len(s.images) >= MaxImages {
			return fmt.Errorf("more than %d image records", MaxImages)
		}
	case r.Volume != nil:
		kind, id = "volume", r.Volume.ID
		_, dup = s.volumes[id]
		if !dup && len(s.volumes) >= MaxVolumes {
			return fmt.Errorf("more than %d volume records", MaxVolumes)
		}
	case r.AlertRule != nil:
		kind, id = "alert rule", r.AlertRule.Name
		_, dup = s.alertRules[id]
		if !dup && len(s.alertRules) >= MaxAlertRules {
			return fmt.Errorf("more than %d alert rule records", MaxAlertRules)
		}
	case r.Alert != nil:
		kind, id = "alert", r.Alert.ID
		_, dup = s.alerts[id]
		if !dup && len(s.alerts) >= MaxAlerts {
			return fmt.Errorf("more than %d alert records", MaxAlerts)
		}
	case r.Silence != nil:
		kind, id = "silence", r.Silence.ID
		_, dup = s.silences[id]
		if !dup && len(s.silences) >= MaxSilences {
			return fmt.Errorf("more than %d silence records", MaxSilences)
		}
	case r.AlertTarget != nil:
		kind, id = "alert target", r.AlertTarget.Name
		_, dup = s.alertTargets[id]
		if !dup && len(s.alertTargets) >= MaxAlertTargets {
			return fmt.Errorf("more than %d alert target records", MaxAlertTargets)
		}
	case r.Removal != nil:
		kind, id = "removal", r.Removal.VMID
		_, dup = s.removals[id]
		if !dup && len(s.removals) >= MaxRemovals {
			return fmt.Errorf("more than %d removal records", MaxRemovals)
		}
	default:
		return nil // Restore refuses a record of no kind it knows
	}
	switch {
	case id == "":
		return fmt.Errorf("a %s record has no id", kind)
	case dup:
		return fmt.Errorf("two %s records have id %q", kind, id)
	}
	return nil
}
