package trinotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// PEM keystores and truststores, read as Trino reads
// http-server.https.keystore.path, internal-communication.https.keystore.path
// and the truststore paths (airlift PemReader): one file holds the private
// key and the certificate chain; the first private key found is the key, and
// the certificate whose public key matches it becomes the leaf. A keystore
// password (…keystore.key) is needed only for an encrypted PKCS#8 key, which
// trinotest does not decrypt.

// pemMarker matches any PEM header airlift recognises (certificate, public
// or private key): a file without one is not PEM, and airlift would read it
// as a Java keystore.
var pemMarker = regexp.MustCompile(`(?i)-+BEGIN\s+[^-]*(CERTIFICATE|PUBLIC\s+KEY|PRIVATE\s+KEY)[^-]*-+`)

// loadKeystore reads a PEM keystore as airlift's HTTP server and client do,
// with airlift's messages: "Error reading key store file" when it cannot be
// read, "Error loading PEM key store" when it holds no usable key and chain.
func loadKeystore(path string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("Error reading key store file: %s: %w", path, err)
	}
	if !pemMarker.Match(data) {
		return tls.Certificate{}, fmt.Errorf("Error loading Java key store: %s: not a PEM file (trinotest reads only PEM keystores)", path)
	}
	cert, err := parseKeystore(data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("Error loading PEM key store: %s: %w", path, err)
	}
	return cert, nil
}

func parseKeystore(data []byte) (tls.Certificate, error) {
	var key crypto.Signer
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case strings.HasSuffix(block.Type, "CERTIFICATE"):
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("certificate %d: %w", len(chain)+1, err)
			}
			chain = append(chain, c)
		case strings.HasSuffix(block.Type, "PRIVATE KEY") && key == nil:
			k, err := parsePrivateKey(block)
			if err != nil {
				return tls.Certificate{}, err
			}
			key = k
		}
	}
	if key == nil {
		return tls.Certificate{}, errors.New("did not find a private key")
	}
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("Certificate file does not contain any certificates")
	}
	leaf := -1
	for i, c := range chain {
		if publicKeyEqual(c.PublicKey, key.Public()) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return tls.Certificate{}, errors.New("Private key does not match the public key of any certificate")
	}
	chain[0], chain[leaf] = chain[leaf], chain[0]
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// parsePrivateKey accepts what airlift's PemReader accepts unencrypted:
// PKCS#8 ("PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY", "EC PRIVATE KEY").
func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errors.New("Password protected PKCS 1 private keys are not supported")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("Private key is encrypted, but no password was provided (trinotest reads only unencrypted keys)")
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s private key in PKCS 1 format is not supported", strings.TrimSuffix(block.Type, " PRIVATE KEY"))
	}
	if err != nil {
		return nil, fmt.Errorf("invalid %s: %w", strings.ToLower(block.Type), err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", strings.ToLower(block.Type), k)
	}
	return s, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case *ecdsa.PublicKey:
		return a.Equal(b)
	case *rsa.PublicKey:
		return a.Equal(b)
	case ed25519.PublicKey:
		return a.Equal(b)
	}
	return false
}

// loadTruststore reads a PEM truststore: every certificate in it is a trust
// anchor. An empty one fails as the JVM fails to build a trust manager from
// an empty keystore.
func loadTruststore(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Error reading trust store file: %s: %w", path, err)
	}
	if !pemMarker.Match(data) {
		return nil, fmt.Errorf("Error loading Java trust store: %s: not a PEM file (trinotest reads only PEM truststores)", path)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if !strings.HasSuffix(block.Type, "CERTIFICATE") {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("Error loading PEM trust store: %s: %w", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("Error loading PEM trust store: %s: the trustAnchors parameter must be non-empty", path)
	}
	return pool, nil
}

// chainPool trusts the certificates above the leaf of a keystore's chain
// (the CA a test issued it from), or the leaf itself when it is alone: what
// Server.Client trusts when no truststore is configured.
func chainPool(cert tls.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	ders := cert.Certificate
	if len(ders) > 1 {
		ders = ders[1:]
	}
	for _, der := range ders {
		if c, err := x509.ParseCertificate(der); err == nil {
			pool.AddCert(c)
		}
	}
	return pool
}
