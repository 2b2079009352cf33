package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Fence actions, the same words as the VM spec's fence action.
const (
	// ActionDestroy stops the domain at once (power cut).
	ActionDestroy = "destroy"
	// ActionPause pauses the domain's vCPUs: it keeps its memory and can be
	// resumed if the leader did not restart it elsewhere.
	ActionPause = "pause"
	// ActionKeep leaves the domain running: a VM that is not HA, which the
	// leader never restarts elsewhere.
	ActionKeep = "keep"
)

// MaxDomains bounds the side file: SetDomains refuses more, and the guard
// ignores a file with more.
const MaxDomains = 4096

// maxDomainsBytes bounds the side file's size as the guard reads it.
const maxDomainsBytes = MaxDomains * 512

// ErrTooManyDomains: SetDomains was given more than MaxDomains entries.
var ErrTooManyDomains = fmt.Errorf("more than %d domains for the guard", MaxDomains)

// Domain is one managed domain on the host and what the guard does to it when
// it fences.
type Domain struct {
	// ID is the VM ID, the domain's ID in the driver.
	ID string `json:"id"`
	// Name is for the logs.
	Name string `json:"name,omitempty"`
	// Action is ActionDestroy, ActionPause or ActionKeep; empty is destroy.
	Action string `json:"action"`
}

// domainsFile is the side file's JSON.
type domainsFile struct {
	Version int      `json:"version"`
	Domains []Domain `json:"domains"`
}

// domainsPath is where the side file of the lease file at leasePath lives.
func domainsPath(leasePath string) string { return leasePath + ".domains" }

// SetDomains tells the guard what to do with each managed domain on the host
// when it fences: list every domain the agent knows, its non-HA ones with
// ActionKeep, because the guard destroys a running managed domain the list
// does not name (as the agent's own fence does with a domain it does not
// know). The list replaces the previous one by atomic rename; the guard picks
// it up within one interval. Call it before starting a domain and after
// learning of one.
func (l *Lease) SetDomains(domains []Domain) error {
	if len(domains) > MaxDomains {
		return ErrTooManyDomains
	}
	for i, d := range domains {
		if d.ID == "" {
			return fmt.Errorf("guard domains: entry %d has no ID", i)
		}
		switch d.Action {
		case "", ActionDestroy, ActionPause, ActionKeep:
		default:
			return fmt.Errorf("guard domains: domain %s: unknown action %q", d.ID, d.Action)
		}
	}
	data, err := json.Marshal(domainsFile{Version: 1, Domains: domains})
	if err != nil {
		return err
	}
	path := domainsPath(l.path)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("guard domains: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("guard domains: %w", err)
	}
	l.add(offDomainsGen, 1)
	return nil
}

// Domains returns the list the side file holds now, by domain ID: what an
// earlier agent told its guard, for a restarted agent to start from.
func (l *Lease) Domains() (map[string]Domain, error) { return readDomains(l.path) }

// readDomains reads the side file of the lease file at leasePath. A missing
// file is an empty list: no domain is known.
func readDomains(leasePath string) (map[string]Domain, error) {
	f, err := os.Open(domainsPath(leasePath))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Domain{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxDomainsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(buf) > maxDomainsBytes {
		return nil, fmt.Errorf("guard domains file larger than %d bytes", maxDomainsBytes)
	}
	var df domainsFile
	if err := json.Unmarshal(buf, &df); err != nil {
		return nil, fmt.Errorf("guard domains file: %w", err)
	}
	if df.Version != 1 || len(df.Domains) > MaxDomains {
		return nil, fmt.Errorf("guard domains file: version %d with %d entries not understood", df.Version, len(df.Domains))
	}
	out := make(map[string]Domain, len(df.Domains))
	for _, d := range df.Domains {
		if d.Action == "" {
			d.Action = ActionDestroy
		}
		out[d.ID] = d
	}
	return out, nil
}
