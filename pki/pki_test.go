package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestIssueAndVerify(t *testing.T) {
	now := time.Now()
	ca, caKey, err := New("moat test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(ca.CertPEM, caKey)
	if err != nil {
		t.Fatal(err)
	}
	server := Leaf{Name: "consul", DNSNames: []string{"localhost", "consul"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}
	cert, key, err := again.Issue(server, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	c, _ := ParseCert(cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("server certificate does not verify for 127.0.0.1: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a server-only certificate verifies as a client certificate")
	}
	if !ca.Current(cert, server, now) {
		t.Error("a fresh certificate is not current")
	}
	if ca.Current(cert, server, now.Add(300*24*time.Hour)) {
		t.Error("a certificate with less than a third of its life left is current")
	}
	moreIPs := server
	moreIPs.IPs = append(moreIPs.IPs, net.IPv4(10, 0, 0, 1))
	if ca.Current(cert, moreIPs, now) {
		t.Error("a certificate that lacks a wanted IP is current")
	}
	other, _, _ := New("other", now)
	if other.Current(cert, server, now) {
		t.Error("a certificate of another CA is current")
	}
	if _, err := Parse(ca.CertPEM, mustKey(t, other)); err == nil {
		t.Error("a CA with a foreign key parses")
	}
	if _, _, err := ca.Issue(Leaf{Name: "x"}, now); err == nil {
		t.Error("a certificate for nothing is issued")
	}
}

func mustKey(t *testing.T, _ *CA) []byte {
	_, k, err := New("k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A short lifetime (certificate renewal's tests) is honoured, and a
// certificate stops being current once a third of it is left.
func TestShortLifetimeAndFirstCert(t *testing.T) {
	now := time.Now()
	ca, _, err := New("moat test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	l := Leaf{Name: "n", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Lifetime: 3 * time.Minute}
	cert, key, err := ca.Issue(l, now)
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(append(append([]byte{}, key...), cert...), ca.CertPEM...) // a Trino keystore's order
	c, err := FirstCert(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "n" || !c.NotAfter.Equal(now.Add(3*time.Minute).Truncate(time.Second)) {
		t.Errorf("first certificate %q valid until %s, want n until %s", c.Subject.CommonName, c.NotAfter, now.Add(3*time.Minute))
	}
	if !ca.Current(cert, l, now.Add(time.Minute)) || ca.Current(cert, l, now.Add(2*time.Minute+time.Second)) {
		t.Error("want current until two thirds of the lifetime, then not")
	}
	if _, err := FirstCert(key); err == nil {
		t.Error("FirstCert of a key alone: want an error")
	}
}
