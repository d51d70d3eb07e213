package mesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// Identity is a Connect-native identity (moat's own is "orchestrator"): the
// CA roots and a leaf certificate from the local agent, kept current by
// blocking queries in goroutines the Identity owns. Close stops them and
// waits for them.
type Identity struct {
	client  *api.Client
	service string

	mu          sync.RWMutex
	cert        *tls.Certificate
	serial      string
	validBefore time.Time
	leafURI     string
	roots       *x509.CertPool
	trustDomain string
	changed     chan struct{} // closed and replaced on every change
	lastErr     error
	overrides   map[string]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewIdentity fetches the roots and service's leaf certificate from the agent
// behind client (its token needs service:write on service) and starts
// watching both. It fails when the first fetch fails.
func NewIdentity(ctx context.Context, client *api.Client, service string) (*Identity, error) {
	id := &Identity{client: client, service: service, changed: make(chan struct{}), overrides: map[string]string{}}
	rootsIdx, err := id.fetchRoots(ctx, 0)
	if err != nil {
		return nil, err
	}
	leafIdx, err := id.fetchLeaf(ctx, 0)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	id.cancel = cancel
	id.wg.Add(2)
	go id.watch(wctx, rootsIdx, id.fetchRoots)
	go id.watch(wctx, leafIdx, id.fetchLeaf)
	return id, nil
}

// Close stops the watches and waits for them to end.
func (id *Identity) Close() error {
	id.cancel()
	id.wg.Wait()
	return nil
}

// Service is the identity's service name.
func (id *Identity) Service() string { return id.service }

// Err is the last error of the background watches (nil once one succeeds).
func (id *Identity) Err() error {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.lastErr
}

// SetAddress makes connections to service go to addr (host:port) instead of
// the address in the catalog: for sidecars reached through a port published
// on host loopback (Docker Desktop cannot route to container addresses).
func (id *Identity) SetAddress(service, addr string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.overrides[service] = addr
}

// watch repeats a blocking query until ctx ends, backing off after errors.
func (id *Identity) watch(ctx context.Context, index uint64, fetch func(context.Context, uint64) (uint64, error)) {
	defer id.wg.Done()
	backoff := time.Second
	for ctx.Err() == nil {
		next, err := fetch(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			id.setErr(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		id.setErr(nil)
		backoff = time.Second
		if next < index { // index went backwards (agent restart): start over
			next = 0
		}
		index = next
	}
}

func (id *Identity) setErr(err error) {
	id.mu.Lock()
	id.lastErr = err
	id.mu.Unlock()
}

// waitTime bounds a blocking query so that the identity re-asks well before
// its certificate expires, even if the agent had nothing new to say.
func (id *Identity) waitTime() time.Duration {
	id.mu.RLock()
	defer id.mu.RUnlock()
	wait := 10 * time.Minute
	if !id.validBefore.IsZero() {
		if left := time.Until(id.validBefore) / 2; left < wait {
			wait = max(left, time.Second)
		}
	}
	return wait
}

func (id *Identity) fetchRoots(ctx context.Context, index uint64) (uint64, error) {
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: id.waitTime()}).WithContext(ctx)
	list, meta, err := id.client.Agent().ConnectCARoots(q)
	if err != nil {
		return 0, fmt.Errorf("mesh: Connect CA roots for %s: %w", id.service, err)
	}
	pool := x509.NewCertPool()
	for _, r := range list.Roots {
		if !pool.AppendCertsFromPEM([]byte(r.RootCertPEM)) {
			return 0, fmt.Errorf("mesh: Connect CA root %s is not PEM", r.ID)
		}
	}
	if len(list.Roots) == 0 || list.TrustDomain == "" {
		return 0, fmt.Errorf("mesh: Consul has no Connect CA roots yet (is connect.enabled set on the server?)")
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.trustDomain != list.TrustDomain || meta.LastIndex != index {
		id.roots, id.trustDomain = pool, list.TrustDomain
		id.notifyLocked()
	}
	return meta.LastIndex, nil
}

func (id *Identity) fetchLeaf(ctx context.Context, index uint64) (uint64, error) {
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: id.waitTime()}).WithContext(ctx)
	leaf, meta, err := id.client.Agent().ConnectCALeaf(id.service, q)
	if err != nil {
		return 0, fmt.Errorf("mesh: Connect leaf certificate for %s: %w", id.service, err)
	}
	cert, err := tls.X509KeyPair([]byte(leaf.CertPEM), []byte(leaf.PrivateKeyPEM))
	if err != nil {
		// The error of X509KeyPair names no key material.
		return 0, fmt.Errorf("mesh: Connect leaf certificate for %s does not parse: %w", id.service, err)
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if leaf.SerialNumber != id.serial {
		id.cert, id.serial, id.validBefore, id.leafURI = &cert, leaf.SerialNumber, leaf.ValidBefore, leaf.ServiceURI
		id.notifyLocked()
	}
	return meta.LastIndex, nil
}

func (id *Identity) notifyLocked() {
	close(id.changed)
	id.changed = make(chan struct{})
}

// SPIFFEID is the URI a sidecar or native service of this mesh presents
// for service: spiffe://<trust-domain>/ns/default/dc/<dc>/svc/<service>.
func (id *Identity) SPIFFEID(service string) string {
	id.mu.RLock()
	defer id.mu.RUnlock()
	dc := DefaultDatacenter
	if u, err := url.Parse(id.leafURI); err == nil {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		for i := 0; i+1 < len(parts); i++ {
			if parts[i] == "dc" {
				dc = parts[i+1]
			}
		}
	}
	return "spiffe://" + id.trustDomain + "/ns/default/dc/" + dc + "/svc/" + service
}

// TLSConfig is a client configuration that presents the current leaf and
// accepts only a server whose chain verifies against the current roots and
// whose first URI SAN is the SPIFFE ID of expectedService.
func (id *Identity) TLSConfig(expectedService string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			id.mu.RLock()
			defer id.mu.RUnlock()
			return id.cert, nil
		},
		// Go's hostname check does not apply: Connect certificates carry a
		// SPIFFE URI, not DNS names. VerifyConnection does the real check.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return id.verifyPeer(cs.PeerCertificates, expectedService)
		},
	}
}

// IdentityMismatchError: the peer's certificate is valid but names another
// service than the one moat meant to reach.
type IdentityMismatchError struct{ Want, Got string }

func (e *IdentityMismatchError) Error() string {
	return fmt.Sprintf("mesh: peer presents identity %s, expected %s: the address points at another service (check the catalog or the address override)", e.Got, e.Want)
}

func (id *Identity) verifyPeer(chain []*x509.Certificate, expected string) error {
	if len(chain) == 0 {
		return errors.New("mesh: peer presented no certificate")
	}
	id.mu.RLock()
	roots := id.roots
	id.mu.RUnlock()
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("mesh: peer certificate is not signed by this mesh's Connect CA: %w", err)
	}
	if expected == "" {
		return nil
	}
	want := id.SPIFFEID(expected)
	got := "(none)"
	if len(chain[0].URIs) > 0 {
		got = chain[0].URIs[0].String()
	}
	if got != want {
		return &IdentityMismatchError{Want: want, Got: got}
	}
	return nil
}

// resolve returns the address of service's sidecar (or native listener):
// the override if one is set, else a passing instance from the catalog.
func (id *Identity) resolve(ctx context.Context, service string) (string, error) {
	id.mu.RLock()
	addr, ok := id.overrides[service]
	id.mu.RUnlock()
	if ok {
		return addr, nil
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	entries, _, err := id.client.Health().Connect(service, "", true, q)
	if err != nil {
		return "", fmt.Errorf("mesh: look up %s's sidecar in the catalog: %w", service, err)
	}
	for _, e := range entries {
		host := e.Service.Address
		if host == "" {
			host = e.Node.Address
		}
		return net.JoinHostPort(host, strconv.Itoa(e.Service.Port)), nil
	}
	return "", fmt.Errorf("mesh: no healthy instance of %s in the mesh (its sidecar is not registered or its checks are not passing: see `moat status`)", service)
}
