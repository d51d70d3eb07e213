package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

// isStatus reports whether err is Consul's answer with HTTP status code.
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
