package trinotest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Automatic internal HTTPS, as Trino sets it up when
// internal-communication.https.required=true and no keystore is configured
// (airlift's automaticHttpsSharedSecret): the shared secret seeds a key pair
// every node derives identically; each node serves a certificate with
// subject CN=<node.environment> naming all its local IP addresses (and their
// IP-encoded host names, 10-0-0-1.ip), and trusts exactly the certificates
// that key vouches for under that subject. A node with another secret or
// another environment is not trusted.
//
// Airlift derives an RSA-2048 key from a SHA1PRNG seeded with the secret and
// self-signs every node's certificate with it. trinotest derives a P-256 key
// from SHA-256 of the secret instead and makes it a CA that signs each node's
// own (random) key: the same trust rule, in what Go's crypto offers. Its
// certificates interoperate only with trinotest, not with a real Trino.

// automaticCA derives the CA of a secret and environment: the same key and
// subject on every node, so every node's pool trusts every node's
// certificate.
func automaticCA(secret, environment string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := derivedKey(secret)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	skid := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: environment},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("automatic HTTPS: create the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// derivedKey is the P-256 key of a shared secret: the first SHA-256 of
// "trinotest automatic https <n>\x00<secret>" that is a valid scalar.
func derivedKey(secret string) (*ecdsa.PrivateKey, error) {
	for n := 0; n < 16; n++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("trinotest automatic https %d\x00%s", n, secret)))
		if key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h[:]); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("automatic HTTPS: cannot derive a key from the shared secret")
}

// automaticTLS returns the server and client TLS configurations of a node:
// its certificate for ips, signed by the CA of secret and environment, and a
// pool trusting that CA alone.
func automaticTLS(secret, environment string, ips []net.IP) (server, client *tls.Config, err error) {
	ca, caKey, err := automaticCA(secret, environment)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: environment},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  ips,
	}
	for _, ip := range ips {
		tmpl.DNSNames = append(tmpl.DNSNames, encodeIPAsHostname(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("automatic HTTPS: create the node certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}
	client = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return server, client, nil
}

// localIPs are the addresses airlift puts in an automatic certificate: every
// interface address but unspecified, link-local and multicast ones (loopback
// included), plus extra (the bind and internal addresses).
func localIPs(extra ...string) []net.IP {
	var ips []net.IP
	seen := map[string]bool{}
	add := func(ip net.IP) {
		if ip == nil || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || seen[ip.String()] {
			return
		}
		seen[ip.String()] = true
		ips = append(ips, ip)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			add(n.IP)
		}
	}
	for _, e := range extra {
		add(net.ParseIP(e))
	}
	return ips
}

// ipHostnameSuffix marks a host name that encodes an IP address (airlift's
// AddressToHostname).
const ipHostnameSuffix = ".ip"

// encodeIPAsHostname encodes ip as airlift does: 10.0.0.1 -> 10-0-0-1.ip,
// 2001:db8::1 -> x2001-db8--1.ip.
func encodeIPAsHostname(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return strings.ReplaceAll(v4.String(), ".", "-") + ipHostnameSuffix
	}
	return "x" + strings.ReplaceAll(ip.String(), ":", "-") + ipHostnameSuffix
}

// decodeIPHostname reverses encodeIPAsHostname.
func decodeIPHostname(host string) (string, bool) {
	s, ok := strings.CutSuffix(host, ipHostnameSuffix)
	if !ok {
		return "", false
	}
	if v6, ok := strings.CutPrefix(s, "x"); ok {
		s = strings.ReplaceAll(v6, "-", ":")
	} else {
		s = strings.ReplaceAll(s, "-", ".")
	}
	if net.ParseIP(s) == nil {
		return "", false
	}
	return s, true
}

// ipEncodedURL rewrites an https URL whose host is an IP address to the
// IP-encoded host name, as Trino's DiscoveryEncodeAddressAsHostname does for
// discovery requests under automatic HTTPS.
func ipEncodedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return raw
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil {
		return raw
	}
	host := encodeIPAsHostname(ip)
	if port := u.Port(); port != "" {
		host = net.JoinHostPort(host, port)
	}
	u.Host = host
	return u.String()
}

// newInternalClient is the HTTP client a node talks to other nodes with:
// it resolves IP-encoded host names as airlift's client does, and with
// automatic HTTPS trusts only the cluster's CA.
func newInternalClient(tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil {
				if ip, ok := decodeIPHostname(host); ok {
					addr = net.JoinHostPort(ip, port)
				}
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}
