package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"math"
	"strings"
	"time"
)

// Rebalancing modes: off does nothing, recommend computes the moves and shows
// them in the API, automatic also carries them out.
const (
	RebalanceOff       = "off"
	RebalanceRecommend = "recommend"
	RebalanceAutomatic = "automatic"
)

// Settings are the cluster-wide knobs an operator sets through the API. Zero
// fields mean the defaults (see WithDefaults), so an old log without settings
// behaves like a new cluster.
type Settings struct {
	// Strategy is the cluster's placement strategy: spread (default) or binpack.
	Strategy string `json:"strategy,omitempty"`
	// CPUOvercommit is the vCPUs offered per host vCPU on nodes that do not set
	// their own ratio (default 1: no overcommit).
	CPUOvercommit float64 `json:"cpu_overcommit,omitempty"`
	// MemoryOvercommit is the same for memory (default 1: no overcommit).
	MemoryOvercommit float64 `json:"memory_overcommit,omitempty"`
	// MaxMigrationsPerHost bounds the migrations a node takes part in at once,
	// as source or destination (default 2); MaxMigrationsPerCluster bounds them
	// cluster-wide (default 8).
	MaxMigrationsPerHost    int `json:"max_migrations_per_host,omitempty"`
	MaxMigrationsPerCluster int `json:"max_migrations_per_cluster,omitempty"`
	// Rebalance configures automatic rebalancing.
	Rebalance RebalanceSettings `json:"rebalance"`
	// Retention bounds the history kept: finished migrations and failovers,
	// and nodes long gone. Added before the first release (no field gate).
	Retention RetentionSettings `json:"retention"`
	// Images bound image imports (issue 15).
	Images ImageSettings `json:"images"`
}

// ImageSettings bound where images come from.
type ImageSettings struct {
	// URLAllow lists the hosts image URLs may name: host names, "*.suffix",
	// IP literals or CIDRs, each optionally with ":port". Empty: no URL is
	// fetched. Loopback, private, link-local and metadata addresses are
	// fetched only when an IP or CIDR entry names them (package fetch).
	URLAllow []string `json:"url_allow,omitempty"`
	// MaxBytes bounds one image's size (default 64 GiB).
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// Bounds on image settings.
const (
	MaxImageURLAllow   = 64
	maxImageAllowEntry = 256
)

// RebalanceSettings configure the leader's rebalancer.
type RebalanceSettings struct {
	// Mode is off, recommend (default) or automatic.
	Mode string `json:"mode,omitempty"`
	// Threshold: the rebalancer acts only when the cluster's imbalance (the
	// standard deviation of node loads, 0 to 0.5) is above it (default 0.1).
	Threshold float64 `json:"threshold,omitempty"`
	// MinGain: a move is made only if it lowers the imbalance by at least this
	// much (default 0.02).
	MinGain float64 `json:"min_gain,omitempty"`
	// MaxMoves bounds the migrations one round starts (default 2).
	MaxMoves int `json:"max_moves,omitempty"`
	// CooldownSeconds: a VM that moved is not moved again for this long
	// (default 600).
	CooldownSeconds int64 `json:"cooldown_seconds,omitempty"`
	// IntervalSeconds is the time between rounds (default 60).
	IntervalSeconds int64 `json:"interval_seconds,omitempty"`
}

// Cooldown is CooldownSeconds as a duration.
func (r RebalanceSettings) Cooldown() time.Duration {
	return time.Duration(r.CooldownSeconds) * time.Second
}

// Interval is IntervalSeconds as a duration.
func (r RebalanceSettings) Interval() time.Duration {
	return time.Duration(r.IntervalSeconds) * time.Second
}

// DefaultSettings are the settings of a new cluster.
func DefaultSettings() Settings {
	return Settings{
		Strategy: StrategySpread, CPUOvercommit: 1, MemoryOvercommit: 1,
		MaxMigrationsPerHost: 2, MaxMigrationsPerCluster: 8,
		Rebalance: RebalanceSettings{Mode: RebalanceRecommend, Threshold: 0.1, MinGain: 0.02, MaxMoves: 2, CooldownSeconds: 600, IntervalSeconds: 60},
		Retention: RetentionSettings{KeepFinished: 1000, FinishedMaxAgeSeconds: 30 * 24 * 3600, NodeReapSeconds: 72 * 3600, AuditEntries: 50_000},
		Images:    ImageSettings{MaxBytes: 64 << 30},
	}
}

// WithDefaults fills every zero field with its default.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	orDefault(&s.Strategy, d.Strategy)
	orDefault(&s.CPUOvercommit, d.CPUOvercommit)
	orDefault(&s.MemoryOvercommit, d.MemoryOvercommit)
	orDefault(&s.MaxMigrationsPerHost, d.MaxMigrationsPerHost)
	orDefault(&s.MaxMigrationsPerCluster, d.MaxMigrationsPerCluster)
	r, dr := &s.Rebalance, d.Rebalance
	orDefault(&r.Mode, dr.Mode)
	orDefault(&r.Threshold, dr.Threshold)
	orDefault(&r.MinGain, dr.MinGain)
	orDefault(&r.MaxMoves, dr.MaxMoves)
	orDefault(&r.CooldownSeconds, dr.CooldownSeconds)
	orDefault(&r.IntervalSeconds, dr.IntervalSeconds)
	k, dk := &s.Retention, d.Retention
	orDefault(&k.KeepFinished, dk.KeepFinished)
	orDefault(&k.FinishedMaxAgeSeconds, dk.FinishedMaxAgeSeconds)
	orDefault(&k.NodeReapSeconds, dk.NodeReapSeconds)
	orDefault(&k.AuditEntries, dk.AuditEntries)
	orDefault(&s.Images.MaxBytes, d.Images.MaxBytes)
	return s
}

// orDefault sets *v to def when *v is its type's zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate checks settings as an operator sends them (after defaults).
func (s Settings) Validate() error {
	ratio := func(field string, v float64) error {
		if math.IsNaN(v) || v < 1 || v > 64 {
			return errorf(ErrInvalid, "%s must be between 1 and 64, got %v", field, v)
		}
		return nil
	}
	r := s.Rebalance
	switch {
	case s.Strategy != StrategySpread && s.Strategy != StrategyBinpack:
		return errorf(ErrInvalid, "strategy must be spread or binpack, got %q", s.Strategy)
	case ratio("cpu_overcommit", s.CPUOvercommit) != nil:
		return ratio("cpu_overcommit", s.CPUOvercommit)
	case ratio("memory_overcommit", s.MemoryOvercommit) != nil:
		return ratio("memory_overcommit", s.MemoryOvercommit)
	case s.MaxMigrationsPerHost < 1 || s.MaxMigrationsPerHost > 64:
		return errorf(ErrInvalid, "max_migrations_per_host must be between 1 and 64, got %d", s.MaxMigrationsPerHost)
	case s.MaxMigrationsPerCluster < 1 || s.MaxMigrationsPerCluster > 1024:
		return errorf(ErrInvalid, "max_migrations_per_cluster must be between 1 and 1024, got %d", s.MaxMigrationsPerCluster)
	case r.Mode != RebalanceOff && r.Mode != RebalanceRecommend && r.Mode != RebalanceAutomatic:
		return errorf(ErrInvalid, "rebalance.mode must be off, recommend or automatic, got %q", r.Mode)
	case math.IsNaN(r.Threshold) || r.Threshold <= 0 || r.Threshold > 0.5:
		return errorf(ErrInvalid, "rebalance.threshold must be above 0 and at most 0.5, got %v", r.Threshold)
	case math.IsNaN(r.MinGain) || r.MinGain <= 0 || r.MinGain > 0.5:
		return errorf(ErrInvalid, "rebalance.min_gain must be above 0 and at most 0.5, got %v", r.MinGain)
	case r.MaxMoves < 1 || r.MaxMoves > 100:
		return errorf(ErrInvalid, "rebalance.max_moves must be between 1 and 100, got %d", r.MaxMoves)
	case r.CooldownSeconds < 1 || r.CooldownSeconds > 7*24*3600:
		return errorf(ErrInvalid, "rebalance.cooldown_seconds must be between 1 and 604800, got %d", r.CooldownSeconds)
	case r.IntervalSeconds < 1 || r.IntervalSeconds > 24*3600:
		return errorf(ErrInvalid, "rebalance.interval_seconds must be between 1 and 86400, got %d", r.IntervalSeconds)
	}
	if err := s.Retention.validate(); err != nil {
		return err
	}
	return s.Images.validate()
}

func (i ImageSettings) validate() error {
	if i.MaxBytes < 1<<20 || i.MaxBytes > 16<<40 {
		return errorf(ErrInvalid, "images.max_bytes must be between 1 MiB and 16 TiB, got %d", i.MaxBytes)
	}
	if len(i.URLAllow) > MaxImageURLAllow {
		return errorf(ErrInvalid, "images.url_allow has %d entries, at most %d", len(i.URLAllow), MaxImageURLAllow)
	}
	for n, e := range i.URLAllow {
		if e == "" || len(e) > maxImageAllowEntry || strings.ContainsAny(e, " \t\r\n\x00") {
			return errorf(ErrInvalid, "images.url_allow[%d] %q is not a host name, IP or CIDR", n, e)
		}
	}
	return nil
}

// EffectiveCapacity is what node n offers to VMs under settings s: its vCPUs and
// memory times their overcommit ratios (the node's own CPU ratio wins).
func (s Settings) EffectiveCapacity(n *Node) Capacity {
	cpu := s.CPUOvercommit
	if n.CPUOvercommit >= 1 {
		cpu = n.CPUOvercommit
	}
	mem := s.MemoryOvercommit
	if cpu < 1 {
		cpu = 1
	}
	if mem < 1 {
		mem = 1
	}
	return Capacity{
		VCPUs:     int(float64(n.Capacity.VCPUs) * cpu),
		MemoryMiB: int64(float64(n.Capacity.MemoryMiB) * mem),
		DiskGiB:   n.Capacity.DiskGiB,
	}
}

// SetSettings replaces the cluster settings. The API merges a partial update
// into the current settings before proposing it.
type SetSettings struct {
	Settings Settings  `json:"settings"`
	At       time.Time `json:"at"`
}

// Type implements Command.
func (SetSettings) Type() CommandType          { return CmdSetSettings }
func (c SetSettings) target() (string, string) { return "settings", "cluster" }

func init() { register(CmdSetSettings, "SetSettings", applySetSettings) }

func applySetSettings(s *state, c *SetSettings, _ uint64) error {
	set := c.Settings.WithDefaults()
	if err := set.Validate(); err != nil {
		return err
	}
	s.settings = set
	return nil
}
