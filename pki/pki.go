package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// CA is a certificate authority: its certificate and private key.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// Lifetimes of what New and Issue create.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 365 * 24 * time.Hour
)

// New creates a CA named name, valid from now for CALifetime.
func New(name string, now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := Parse(pemBlock("CERTIFICATE", der), keyPEM)
	return ca, keyPEM, err
}

// Parse reads a CA from its certificate and key PEM.
func Parse(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("pki: the CA certificate is not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("pki: the CA key is not PEM")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: the CA key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("pki: the CA key does not match its certificate")
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// ParseCert reads the first certificate of a PEM bundle.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("pki: no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return c, nil
}

// FirstCert reads the first certificate of a PEM bundle that may hold
// other blocks before it (a Trino keystore: the key, then the chain).
func FirstCert(bundle []byte) (*x509.Certificate, error) {
	for rest := bundle; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("pki: no PEM certificate")
		}
		if b.Type == "CERTIFICATE" {
			return ParseCert(pem.EncodeToMemory(b))
		}
	}
}

// Leaf says what a certificate is for.
type Leaf struct {
	Name     string   // the subject's common name
	DNSNames []string // server names
	IPs      []net.IP
	Server   bool // ExtKeyUsageServerAuth
	Client   bool // ExtKeyUsageClientAuth
	Lifetime time.Duration
}

// Issue signs a new key pair for l. It returns certificate and key PEM.
func (ca *CA) Issue(l Leaf, now time.Time) (certPEM, keyPEM []byte, err error) {
	if !l.Server && !l.Client {
		return nil, nil, fmt.Errorf("pki: certificate %q is neither for a server nor a client", l.Name)
	}
	if l.Lifetime == 0 {
		l.Lifetime = LeafLifetime
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: key for %s: %w", l.Name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.Name},
		DNSNames:     l.DNSNames, IPAddresses: l.IPs,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(l.Lifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usages(l),
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: certificate for %s: %w", l.Name, err)
	}
	keyPEM, err = encodeKey(key)
	return pemBlock("CERTIFICATE", der), keyPEM, err
}

// Current reports whether certPEM is signed by ca, names exactly what l
// asks for, and stays valid for at least a third of l's lifetime from now:
// a certificate that is not current is issued again.
func (ca *CA) Current(certPEM []byte, l Leaf, now time.Time) bool {
	c, err := ParseCert(certPEM)
	if err != nil || c.CheckSignatureFrom(ca.Cert) != nil {
		return false
	}
	if l.Lifetime == 0 {
		l.Lifetime = LeafLifetime
	}
	if now.Add(l.Lifetime/3).After(c.NotAfter) || now.Before(c.NotBefore) {
		return false
	}
	if c.Subject.CommonName != l.Name || !slices.Equal(c.DNSNames, l.DNSNames) || !slices.Equal(c.ExtKeyUsage, usages(l)) {
		return false
	}
	return slices.EqualFunc(c.IPAddresses, l.IPs, func(a, b net.IP) bool { return a.Equal(b) })
}

func usages(l Leaf) []x509.ExtKeyUsage {
	var u []x509.ExtKeyUsage
	if l.Server {
		u = append(u, x509.ExtKeyUsageServerAuth)
	}
	if l.Client {
		u = append(u, x509.ExtKeyUsageClientAuth)
	}
	return u
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
