package client

import (
	"context"
	"net/http"
)

// Gossip keyring operations (GossipKeyringRequest.Op).
const (
	KeyringInstall = "install"
	KeyringUse     = "use"
	KeyringRemove  = "remove"
)

// GossipKeyring is the cluster's gossip keyring and which alive members hold
// each key (GET /api/v1/operator/gossip/keyring, admin only: it shows the
// keys).
type GossipKeyring struct {
	// Encrypted is false when the cluster gossips in clear text (its nodes
	// started without a key): it has no keyring to rotate.
	Encrypted bool `json:"encrypted"`
	// Primary is the fingerprint of the key nodes encrypt with.
	Primary string      `json:"primary"`
	Keys    []GossipKey `json:"keys"`
}

// GossipKey is one key of the keyring.
type GossipKey struct {
	// Key is the key itself, base64: a secret.
	Key string `json:"key"`
	// Fingerprint names the key without revealing it: the first 8 hex
	// digits of its SHA-256.
	Fingerprint string `json:"fingerprint"`
	Primary     bool   `json:"primary"`
	// Nodes of the Of alive members hold the key (as they publish in
	// gossip); Missing names the others.
	Nodes   int      `json:"nodes"`
	Of      int      `json:"of"`
	Missing []string `json:"missing,omitempty"`
	// PrimaryOn names the alive members that encrypt with the key.
	PrimaryOn []string `json:"primary_on,omitempty"`
}

// GossipKeyringRequest changes the keyring (POST
// /api/v1/operator/gossip/keyring): install a key, use an installed key as
// the primary one (refused while an alive member lacks it), or remove a key
// that is not the primary one (refused while an alive member still encrypts
// with it).
type GossipKeyringRequest struct {
	Op  string `json:"op"`
	Key string `json:"key"`
}

// GossipKeyring returns the gossip keyring (GET /api/v1/operator/gossip/keyring).
func (c *Client) GossipKeyring(ctx context.Context) (*GossipKeyring, error) {
	var out GossipKeyring
	if err := c.get(ctx, apiPrefix+"/operator/gossip/keyring", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChangeGossipKeyring installs, uses or removes a gossip key (POST
// /api/v1/operator/gossip/keyring) and returns the keyring as the answering
// node holds it after the change; the other nodes apply it right after, as
// the counts of each key show.
func (c *Client) ChangeGossipKeyring(ctx context.Context, req GossipKeyringRequest) (*GossipKeyring, error) {
	var out GossipKeyring
	if err := c.do(ctx, http.MethodPost, apiPrefix+"/operator/gossip/keyring", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
