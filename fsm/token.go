package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// CreateToken adds an API token. The proposer generates the secret and sends only
// its hash.
type CreateToken struct {
	Token Token `json:"token"`
}

// RevokeToken removes an API token; requests carrying it are refused from then on.
type RevokeToken struct {
	ID string `json:"id"`
}

// InitCluster sets the cluster's identity. The first leader proposes it; later
// proposals are no-ops, so a racing second one is harmless. (Entries written
// before the cluster secret was removed carry a "secret" field, which decoding
// ignores: nodes authenticate each other by their certificates.)
type InitCluster struct {
	ClusterID string    `json:"cluster_id"`
	At        time.Time `json:"at"`
}

// BootstrapToken creates the root token from the operator's --bootstrap-token, once
// per cluster lifetime: after it has been applied it is refused, so a revoked root
// token never comes back when a node restarts with the same flag.
type BootstrapToken struct {
	Token Token `json:"token"`
}

func (CreateToken) Type() CommandType    { return CmdCreateToken }
func (RevokeToken) Type() CommandType    { return CmdRevokeToken }
func (InitCluster) Type() CommandType    { return CmdInitCluster }
func (BootstrapToken) Type() CommandType { return CmdBootstrapToken }

func (c CreateToken) target() (string, string)    { return "token", c.Token.ID }
func (c RevokeToken) target() (string, string)    { return "token", c.ID }
func (c InitCluster) target() (string, string)    { return "cluster", c.ClusterID }
func (c BootstrapToken) target() (string, string) { return "token", c.Token.ID }

func init() {
	register(CmdCreateToken, "CreateToken", applyCreateToken)
	register(CmdRevokeToken, "RevokeToken", applyRevokeToken)
	register(CmdInitCluster, "InitCluster", applyInitCluster)
	register(CmdBootstrapToken, "BootstrapToken", applyBootstrapToken)
}

func applyCreateToken(s *state, c *CreateToken, _ uint64) error {
	t := c.Token
	if t.ID == "" || t.Hash == "" || t.Role == "" {
		return errorf(ErrInvalid, "token id, hash and role are required")
	}
	if err := ValidateName("token name", t.Name); err != nil {
		return err
	}
	if _, dup := s.tokens[t.ID]; dup {
		return errorf(ErrConflict, "token id %q already exists", t.ID)
	}
	if _, dup := s.tokenByHash[t.Hash]; dup {
		return errorf(ErrConflict, "a token with this secret already exists")
	}
	if err := s.claimTokenName(&t); err != nil {
		return err
	}
	s.tokens[t.ID] = &t
	s.tokenByHash[t.Hash] = t.ID
	return nil
}

// claimTokenName makes t's name unique, as `token revoke NAME` needs: a live
// token of the same name refuses t, an expired one (dead, only not yet
// purged) gives way to it. A state written before names were unique may hold
// several of one name; lookups by name refuse those as ambiguous.
func (s *state) claimTokenName(t *Token) error {
	for id, other := range s.tokens {
		if other.Name != t.Name {
			continue
		}
		if other.ExpiresAt.IsZero() || other.ExpiresAt.After(t.CreatedAt) {
			return errorf(ErrConflict, "token name %q is taken by token %s; revoke it first or choose another name", t.Name, id)
		}
		delete(s.tokenByHash, other.Hash)
		delete(s.tokens, id)
	}
	return nil
}

func applyRevokeToken(s *state, c *RevokeToken, _ uint64) error {
	t, ok := s.tokens[c.ID]
	if !ok {
		return errorf(ErrNotFound, "token %q not found", c.ID)
	}
	delete(s.tokenByHash, t.Hash)
	delete(s.tokens, c.ID)
	return nil
}

func applyInitCluster(s *state, c *InitCluster, _ uint64) error {
	if s.cluster.ID != "" {
		return nil
	}
	if c.ClusterID == "" {
		return errorf(ErrInvalid, "cluster id is required")
	}
	s.cluster.ID = c.ClusterID
	return nil
}

func applyBootstrapToken(s *state, c *BootstrapToken, index uint64) error {
	if s.cluster.TokenBootstrapped {
		return errorf(ErrConflict, "the root token was already bootstrapped")
	}
	if err := applyCreateToken(s, &CreateToken{Token: c.Token}, index); err != nil {
		return err
	}
	s.cluster.TokenBootstrapped = true
	return nil
}

// HashSecret is how token secrets are stored and looked up: hex SHA-256. Secrets
// are long random strings, so a fast hash is enough (as in Consul and Vault).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Token is an API credential. Only the SHA-256 hash of the secret is kept.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// User owns the key: its rights bound the key's (an empty User is the
	// built-in root user, as every token made before users existed).
	User string `json:"user,omitempty"`
	// Project scopes the key to one project; empty is the whole cluster.
	Project   string    `json:"project,omitempty"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitempty"`
	// LastUsedAt is when a request last came with it, to TouchTokenEvery.
	LastUsedAt time.Time `json:"last_used_at,omitempty"`
}

// TouchTokenEvery is how stale a key's LastUsedAt may grow: the node a key
// reaches records its use at most this often, so that a busy key costs one
// Raft entry per interval, not one per request.
const TouchTokenEvery = 5 * time.Minute

// TouchToken records that a key was used at At (never moving it back).
type TouchToken struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

func (TouchToken) Type() CommandType          { return CmdTouchToken }
func (c TouchToken) target() (string, string) { return "token", c.ID }

func init() { register(CmdTouchToken, "TouchToken", applyTouchToken) }

func applyTouchToken(s *state, c *TouchToken, _ uint64) error {
	t, ok := s.tokens[c.ID]
	if !ok {
		return errorf(ErrNotFound, "token %q not found", c.ID)
	}
	if c.At.After(t.LastUsedAt) {
		next := *t
		next.LastUsedAt = c.At
		s.tokens[c.ID] = &next
	}
	return nil
}
