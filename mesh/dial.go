package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// RefusedError: the destination's sidecar accepted the mTLS handshake and
// then closed the connection before any byte came back, which is how the
// built-in proxy (a TLS alert) and Envoy (RBAC close) deny a connection.
type RefusedError struct {
	Source, Destination string
	// IntentionAllows is what Consul's intention check said, when asked.
	IntentionAllows *bool
	Cause           error
}

func (e *RefusedError) Error() string {
	if e.IntentionAllows != nil && *e.IntentionAllows {
		return fmt.Sprintf("connection to %s closed by its sidecar right after the mTLS handshake, although an intention allows %s → %s: is %s's application listening behind its sidecar? (%v)",
			e.Destination, e.Source, e.Destination, e.Destination, e.Cause)
	}
	return fmt.Sprintf("connection to %s refused by the mesh: no intention allows %s → %s (moat.toml [[intention]] or `moat verify`) (%v)",
		e.Destination, e.Source, e.Destination, e.Cause)
}

func (e *RefusedError) Unwrap() error { return e.Cause }

// Dial opens an mTLS connection, as this identity, to service's sidecar
// and completes the handshake. A refusal by the mesh shows up on the first
// Read as a *RefusedError.
func (id *Identity) Dial(ctx context.Context, service string) (net.Conn, error) {
	addr, err := id.resolve(ctx, service)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mesh: connect to %s's sidecar at %s: %w", service, addr, err)
	}
	conn := tls.Client(raw, id.TLSConfig(service))
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		var mismatch *IdentityMismatchError
		if errors.As(err, &mismatch) {
			return nil, mismatch
		}
		return nil, id.refused(service, fmt.Errorf("mTLS handshake with %s: %w", addr, err))
	}
	return &meshConn{Conn: conn, id: id, dst: service}, nil
}

// refused builds the error for a connection the destination closed, asking
// Consul whether an intention allows the pair so the message says why.
func (id *Identity) refused(dst string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e := &RefusedError{Source: id.service, Destination: dst, Cause: cause}
	if ok, err := CheckIntention(ctx, id.client, id.service, dst); err == nil {
		e.IntentionAllows = &ok
	}
	return e
}

// meshConn turns an error on the first read (before any byte arrived)
// into a *RefusedError.
type meshConn struct {
	net.Conn
	id   *Identity
	dst  string
	once sync.Once
	got  bool
}

func (c *meshConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.got = true
	}
	if err != nil && !c.got && !isTimeout(err) {
		var refusal error
		c.once.Do(func() { refusal = c.id.refused(c.dst, err) })
		if refusal != nil {
			return n, refusal
		}
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// HTTPClient is an HTTP client whose every connection goes, over mTLS as
// this identity, to service's sidecar, whatever host the URL names
// (http:// and https:// alike: the mesh provides the TLS).
func (id *Identity) HTTPClient(service string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) { return id.Dial(ctx, service) }
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		DialTLSContext:      dial,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// TLSHTTPClient is HTTPClient for a service that speaks TLS itself (Trino
// serves only HTTPS): the client's own TLS, verified with inner, runs inside
// the mesh mTLS connection to service's sidecar, which carries it at L4.
// Plain http:// URLs are refused.
func (id *Identity) TLSHTTPClient(service string, inner *tls.Config) *http.Client {
	dialTLS := func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := id.Dial(ctx, service)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, inner.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			var refused *RefusedError
			if errors.As(err, &refused) {
				return nil, refused // the mesh said no: that is the whole story
			}
			return nil, fmt.Errorf("mesh: TLS to %s inside the mesh: %w", service, err)
		}
		return tc, nil
	}
	plain := func(context.Context, string, string) (net.Conn, error) {
		return nil, fmt.Errorf("mesh: %s speaks TLS only: use an https:// URL", service)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         plain,
		DialTLSContext:      dialTLS,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}}
}
