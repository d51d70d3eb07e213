package appliance

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"moat/appliance/config"
	"moat/pki"
)

// moat's own CA and the certificates it issues live in the secrets file
// (mode 0600) beside the tokens: the CA key and every private key are
// secrets; the certificates are kept with them so that a key pair is
// reused while it is current (a new one would change the config hash of the
// containers holding it, and replace them, on every up).
const (
	secretCACert = "pki_ca_cert"
	secretCAKey  = "pki_ca_key"
	// Key pairs issued by the CA (EnsureCert adds _cert and _key).
	certConsulServer = "pki_consul_server"
	certMoatClient   = "pki_moat_client"
)

// CA returns moat's certificate authority, creating it on first use.
// It is parsed once, and created by one caller only.
func (s *Secrets) CA() (*pki.CA, error) {
	s.caMu.Lock()
	defer s.caMu.Unlock()
	if s.ca != nil {
		return s.ca, nil
	}
	cert, okC := s.Get(secretCACert)
	key, okK := s.Get(secretCAKey)
	if okC && okK {
		ca, err := pki.Parse([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("moat's CA in %s: %w (remove %s and %s from it to make a new CA)", s.path, err, secretCACert, secretCAKey)
		}
		s.ca = ca
		return ca, nil
	}
	ca, keyPEM, err := pki.New("moat CA", time.Now())
	if err != nil {
		return nil, err
	}
	s.Set(secretCACert, string(ca.CertPEM))
	s.Set(secretCAKey, string(keyPEM))
	s.ca = ca
	return ca, nil
}

// EnsureCert returns the key pair name for l, issuing it when there is none
// or the stored one is no longer current (see pki.CA.Current). A leaf with
// no Lifetime gets CertLifetime's. Callers in several goroutines (the plan,
// the renewer, TLS handshakes) issue a due certificate once.
func (s *Secrets) EnsureCert(ca *pki.CA, name string, l pki.Leaf) (certPEM, keyPEM []byte, err error) {
	if l.Lifetime == 0 {
		if l.Lifetime, err = CertLifetime(); err != nil {
			return nil, nil, err
		}
	}
	s.caMu.Lock() // not held by CA's callers: CA returned before this
	defer s.caMu.Unlock()
	cert, okC := s.Get(name + "_cert")
	key, okK := s.Get(name + "_key")
	if okC && okK && ca.Current([]byte(cert), l, time.Now()) {
		return []byte(cert), []byte(key), nil
	}
	certPEM, keyPEM, err = ca.Issue(l, time.Now())
	if err != nil {
		return nil, nil, err
	}
	s.Set(name+"_cert", string(certPEM))
	s.Set(name+"_key", string(keyPEM))
	return certPEM, keyPEM, nil
}

// CertLifetimeEnv shortens the lifetime of the certificates moat's CA
// issues, for tests of renewal only (a Go duration, at least
// minCertLifetime). It is no moat.toml field: users have no reason to
// shorten it, and the renewer keeps a year-long certificate current.
const CertLifetimeEnv = "MOAT_TEST_CERT_LIFETIME"

const minCertLifetime = 30 * time.Second

// CertLifetime is the lifetime of the certificates moat issues:
// pki.LeafLifetime, or CertLifetimeEnv's when set.
func CertLifetime() (time.Duration, error) {
	v := os.Getenv(CertLifetimeEnv)
	if v == "" {
		return pki.LeafLifetime, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < minCertLifetime || d > pki.LeafLifetime {
		return 0, fmt.Errorf("%s=%q: must be a duration between %s and %s, as 2m (for tests of certificate renewal only; unset it otherwise)", CertLifetimeEnv, v, minCertLifetime, pki.LeafLifetime)
	}
	return d, nil
}

// ClientCertificate is moat's own client certificate and key (for
// Consul's HTTPS API, verify_incoming), issued by moat's CA and renewed
// when near expiry.
func (s *Secrets) ClientCertificate() (cert, key []byte, err error) {
	ca, err := s.CA()
	if err != nil {
		return nil, nil, err
	}
	return s.EnsureCert(ca, certMoatClient, moatClientLeaf())
}

// GetClientCertificate serves moat's current client certificate to TLS
// handshakes (tls.Config.GetClientCertificate).
func (s *Secrets) GetClientCertificate() func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return (&clientCertificate{sec: s}).get
}

// clientCertificate serves moat's current client certificate to TLS
// handshakes (tls.Config.GetClientCertificate), so that a connection made
// after a renewal presents the new certificate without a new client.
type clientCertificate struct {
	sec *Secrets
	mu  sync.Mutex
	pem string // the certificate PEM that tls was parsed from
	tls *tls.Certificate
}

func (c *clientCertificate) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cert, key, err := c.sec.ClientCertificate()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls == nil || c.pem != string(cert) {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("moat's client certificate: %w", err)
		}
		c.pem, c.tls = string(cert), &pair
	}
	return c.tls, nil
}

// consulServerLeaf is the Consul server's HTTPS certificate: moat reaches
// it on host loopback (published port) and, on Docker Desktop or in tests,
// by its mesh address or name.
func consulServerLeaf(c *config.Config, addr config.Addresses) pki.Leaf {
	return pki.Leaf{
		Name:     config.ServiceConsul,
		DNSNames: []string{"localhost", config.ServiceConsul, "server." + c.Mesh.Datacenter + ".consul"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IP(addr.Consul.AsSlice())},
		Server:   true,
	}
}

// moatClientLeaf is moat's client certificate for Consul's HTTPS API
// (verify_incoming): the credential no application holds.
func moatClientLeaf() pki.Leaf { return pki.Leaf{Name: "moat", Client: true} }
