package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// ErrAlreadyBootstrapped means the ACL system of this Consul data directory
// was bootstrapped before: its management token cannot be asked for again.
var ErrAlreadyBootstrapped = errors.New("the Consul ACL system is already bootstrapped: " +
	"the management token must come from moat's secrets file (consul_management_token in <data_dir>/secrets.toml); " +
	"if it is lost, remove the consul volume (moat down --volumes) or follow Consul's ACL reset procedure")

// Bootstrap asks the Consul server at addr (host:port of its HTTP API) for
// the initial management token. It waits, until ctx ends, for the server to
// elect itself leader; a server bootstrapped before gives
// ErrAlreadyBootstrapped. The token is returned, never logged.
func Bootstrap(ctx context.Context, addr string) (managementToken string, err error) {
	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		return "", fmt.Errorf("mesh: ACL bootstrap: Consul client for %s: %w", addr, err)
	}
	for {
		var out api.ACLToken
		wo := (&api.WriteOptions{}).WithContext(ctx)
		_, err := client.Raw().Write("/v1/acl/bootstrap", nil, &out, wo)
		switch {
		case err == nil && out.SecretID != "":
			return out.SecretID, nil
		case err == nil:
			return "", fmt.Errorf("mesh: ACL bootstrap at %s returned no token", addr)
		case isStatus(err, 403) || strings.Contains(err.Error(), "ACL bootstrap no longer allowed"):
			return "", fmt.Errorf("mesh: ACL bootstrap at %s: %w", addr, ErrAlreadyBootstrapped)
		}
		// No leader yet, ACLs still initialising, or the server not up:
		// retry until ctx ends.
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("mesh: ACL bootstrap at %s: server not ready before the deadline: %w (last error: %v)", addr, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func isStatus(err error, code int) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.Code == code
	}
	return strings.Contains(err.Error(), fmt.Sprintf("Unexpected response code: %d", code))
}

// Descriptions mark the tokens moat creates, so that asking again returns
// the same token instead of piling up new ones.
func sidecarTokenDescription(service string) string { return "moat: service identity " + service }
func agentTokenDescription(node string) string      { return "moat: agent token for node " + node }

// SidecarToken returns a token whose only grant is the service identity of
// service: it may register service and its sidecar, fetch their leaf
// certificates and read the catalog, nothing else (no intention writes).
// client needs acl:write (the management token). Calling it again for the
// same service returns the same token.
func SidecarToken(ctx context.Context, client *api.Client, service string) (string, error) {
	return ServiceToken(ctx, client, service, "")
}

// ServiceToken is SidecarToken with a SecretID chosen by the caller (a UUID
// moat generated and keeps in its secrets file), so that containers can be
// given their token before Consul runs. Its AccessorID is derived from the
// SecretID (AccessorFor), so a Consul that lost its data (its volume
// removed) gets back exactly the same token, both IDs. An existing token for
// the service with another SecretID or AccessorID is replaced.
func ServiceToken(ctx context.Context, client *api.Client, service, secretID string) (string, error) {
	if service == "" {
		return "", errors.New("mesh: sidecar token: service name is empty")
	}
	t := &api.ACLToken{
		Description:       sidecarTokenDescription(service),
		SecretID:          secretID,
		ServiceIdentities: []*api.ACLServiceIdentity{{ServiceName: service}},
	}
	if secretID != "" {
		t.AccessorID = AccessorFor(secretID)
	}
	return ensureToken(ctx, client, t)
}

// AccessorFor is the AccessorID moat gives the token whose SecretID is
// secretID: a UUID (version 4 layout) made from SHA-256 of the SecretID. The
// SecretID cannot be recovered from it, and re-creating the token (a Consul
// bootstrapped again) reproduces it.
func AccessorFor(secretID string) string {
	b := sha256.Sum256([]byte("moat consul token accessor\x00" + secretID))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// AgentToken returns a token with the node identity of the agent (node:write
// on its node, service:read everywhere): what an agent needs under default
// deny to register itself and keep the catalog in sync. Give it to the agent
// with SetAgentToken.
func AgentToken(ctx context.Context, client *api.Client, nodeName, datacenter string) (string, error) {
	if nodeName == "" || datacenter == "" {
		return "", fmt.Errorf("mesh: agent token: node name %q and datacenter %q must both be set", nodeName, datacenter)
	}
	return ensureToken(ctx, client, &api.ACLToken{
		Description:    agentTokenDescription(nodeName),
		NodeIdentities: []*api.ACLNodeIdentity{{NodeName: nodeName, Datacenter: datacenter}},
	})
}

// SetAgentToken installs token as the agent's own token
// (PUT /v1/agent/token/agent). With enable_token_persistence the agent keeps
// it across restarts.
func SetAgentToken(ctx context.Context, client *api.Client, token string) error {
	wo := (&api.WriteOptions{}).WithContext(ctx)
	if _, err := client.Agent().UpdateAgentACLToken(token, wo); err != nil {
		return fmt.Errorf("mesh: set the Consul agent's ACL token: %w", err)
	}
	return nil
}

// ensureToken returns the SecretID of the token described like want,
// creating it when none exists.
func ensureToken(ctx context.Context, client *api.Client, want *api.ACLToken) (string, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	list, _, err := client.ACL().TokenListFiltered(api.ACLTokenFilterOptions{}, q)
	if err != nil {
		return "", fmt.Errorf("mesh: list ACL tokens (for %q): %w", want.Description, err)
	}
	wo := (&api.WriteOptions{}).WithContext(ctx)
	for _, t := range list {
		if t.Description != want.Description || t.SecretID == "" {
			continue
		}
		if want.SecretID == "" || (want.SecretID == t.SecretID && (want.AccessorID == "" || want.AccessorID == t.AccessorID)) {
			return t.SecretID, nil
		}
		if _, err := client.ACL().TokenDelete(t.AccessorID, wo); err != nil {
			return "", fmt.Errorf("mesh: replace ACL token %q: %w", want.Description, err)
		}
	}
	created, _, err := client.ACL().TokenCreate(want, wo)
	if err != nil {
		return "", fmt.Errorf("mesh: create ACL token %q: %w", want.Description, err)
	}
	return created.SecretID, nil
}
