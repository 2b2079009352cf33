package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"crypto/subtle"
	"time"
)

// Join tokens let a new host enroll itself (novacron agent --join-token): the
// cluster signs its node certificate and hands it the gossip keyring. Only a
// hash of each token's secret is stored, as for API tokens.

// MaxJoinTokens bounds the outstanding join tokens: enough for a rack being
// racked, small enough that the table stays a few kilobytes.
const MaxJoinTokens = 64

// MaxJoinTokenUses bounds how many hosts one token may enroll.
const MaxJoinTokenUses = 100

// JoinToken is an outstanding join token.
type JoinToken struct {
	ID        string    `json:"id"`
	Hash      string    `json:"hash"`
	UsesLeft  int       `json:"uses_left"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Enrolled names the nodes enrolled with it so far, in order.
	Enrolled []string `json:"enrolled,omitempty"`
}

// CreateJoinToken adds a join token. The proposer makes the secret and sends
// only its hash. Tokens already expired at CreatedAt are dropped first, so
// the table never fills with dead ones.
type CreateJoinToken struct {
	Token JoinToken `json:"token"`
}

// UseJoinToken spends one use of a token to enroll Node. Apply checks the
// hash, the expiry (at At, the proposer's clock) and the uses left, so two
// hosts racing for a token's last use cannot both win.
type UseJoinToken struct {
	ID   string    `json:"id"`
	Hash string    `json:"hash"`
	Node string    `json:"node"`
	At   time.Time `json:"at"`
}

// RevokeJoinToken removes a join token before it is used up.
type RevokeJoinToken struct {
	ID string `json:"id"`
}

// SetClusterCA records the CA that signs enrolled nodes' certificates, once:
// the first leader started with --tls-ca-key writes it. It lives in the
// replicated state so that any node can enroll a host while a majority is up;
// Raft carries it only inside mutual TLS, and data dirs are 0700.
type SetClusterCA struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

func (CreateJoinToken) Type() CommandType { return CmdCreateJoinToken }
func (UseJoinToken) Type() CommandType    { return CmdUseJoinToken }
func (RevokeJoinToken) Type() CommandType { return CmdRevokeJoinToken }
func (SetClusterCA) Type() CommandType    { return CmdSetClusterCA }

func (c CreateJoinToken) target() (string, string) { return "join-token", c.Token.ID }
func (c UseJoinToken) target() (string, string)    { return "join-token", c.ID }
func (c RevokeJoinToken) target() (string, string) { return "join-token", c.ID }
func (c SetClusterCA) target() (string, string)    { return "cluster", "ca" }

func init() {
	register(CmdCreateJoinToken, "CreateJoinToken", applyCreateJoinToken)
	register(CmdUseJoinToken, "UseJoinToken", applyUseJoinToken)
	register(CmdRevokeJoinToken, "RevokeJoinToken", applyRevokeJoinToken)
	register(CmdSetClusterCA, "SetClusterCA", applySetClusterCA)
}

func applyCreateJoinToken(s *state, c *CreateJoinToken, _ uint64) error {
	t := c.Token
	switch {
	case t.ID == "" || len(t.Hash) != 64:
		return errorf(ErrInvalid, "join token id and hash are required")
	case t.UsesLeft < 1 || t.UsesLeft > MaxJoinTokenUses:
		return errorf(ErrInvalid, "join token uses must be 1 to %d, got %d", MaxJoinTokenUses, t.UsesLeft)
	case !t.ExpiresAt.After(t.CreatedAt):
		return errorf(ErrInvalid, "join token must expire after it is created")
	case len(t.Enrolled) > 0:
		return errorf(ErrInvalid, "a new join token has enrolled nobody")
	}
	if _, dup := s.joinTokens[t.ID]; dup {
		return errorf(ErrConflict, "join token id %q already exists", t.ID)
	}
	for id, old := range s.joinTokens {
		if !old.ExpiresAt.After(t.CreatedAt) {
			delete(s.joinTokens, id)
		}
	}
	if len(s.joinTokens) >= MaxJoinTokens {
		return errorf(ErrConflict, "%d join tokens are outstanding, the most the cluster keeps: revoke some (novacron node join-token list)", len(s.joinTokens))
	}
	s.joinTokens[t.ID] = &t
	return nil
}

func applyUseJoinToken(s *state, c *UseJoinToken, _ uint64) error {
	t, ok := s.joinTokens[c.ID]
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(c.Hash)) != 1 {
		return errorf(ErrState, "the join token is unknown, used up or revoked")
	}
	if !t.ExpiresAt.After(c.At) {
		delete(s.joinTokens, c.ID)
		return errorf(ErrState, "the join token expired at %s", t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := ValidateName("node name", c.Node); err != nil {
		return err
	}
	t.UsesLeft--
	t.Enrolled = append(t.Enrolled, c.Node)
	if t.UsesLeft <= 0 {
		delete(s.joinTokens, c.ID)
	}
	return nil
}

func applyRevokeJoinToken(s *state, c *RevokeJoinToken, _ uint64) error {
	if _, ok := s.joinTokens[c.ID]; !ok {
		return errorf(ErrNotFound, "join token %q not found", c.ID)
	}
	delete(s.joinTokens, c.ID)
	return nil
}

func applySetClusterCA(s *state, c *SetClusterCA, _ uint64) error {
	if s.cluster.CACert != "" {
		return nil // set once; a racing second leader's write is harmless
	}
	if c.CertPEM == "" || c.KeyPEM == "" {
		return errorf(ErrInvalid, "the CA certificate and key are required")
	}
	s.cluster.CACert, s.cluster.CAKey = c.CertPEM, c.KeyPEM
	return nil
}

// JoinTokens returns the outstanding join tokens (hashes included: callers
// outside the API must not print them).
func (f *FSM) JoinTokens() []JoinToken {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]JoinToken, 0, len(f.s.joinTokens))
	for _, t := range f.s.joinTokens {
		c := *t
		c.Enrolled = append([]string(nil), t.Enrolled...)
		out = append(out, c)
	}
	return out
}

// JoinToken returns one outstanding join token.
func (f *FSM) JoinToken(id string) (JoinToken, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.s.joinTokens[id]
	if !ok {
		return JoinToken{}, errorf(ErrNotFound, "join token %q not found", id)
	}
	c := *t
	c.Enrolled = append([]string(nil), t.Enrolled...)
	return c, nil
}
