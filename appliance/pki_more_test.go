package appliance

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/pki"
	"moat/trino"
)

// moat's CA is made once, kept in the secrets file, and the same CA comes
// back in the next process; a damaged one is refused with the way out.
func TestCAIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	sec := mustOpenSecrets(t, dir)
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := sec.CA(); again != ca {
		t.Error("a second CA was made in the same process")
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "moat CA" {
		t.Errorf("CA certificate %v, IsCA %v", ca.Cert.Subject, ca.Cert.IsCA)
	}
	if key := mustGet(t, sec, secretCAKey); !strings.Contains(key, "PRIVATE KEY") {
		t.Error("the CA key is not stored as a secret")
	}
	if err := sec.Save(); err != nil {
		t.Fatal(err)
	}
	next := mustOpenSecrets(t, dir)
	ca2, err := next.CA()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca2.CertPEM, ca.CertPEM) {
		t.Error("the next process made a new CA")
	}
	broken := mustOpenSecrets(t, t.TempDir())
	broken.Set(secretCACert, "not a certificate")
	broken.Set(secretCAKey, "not a key")
	if _, err := broken.CA(); err == nil || !strings.Contains(err.Error(), "remove pki_ca_cert and pki_ca_key from it to make a new CA") {
		t.Errorf("a damaged CA: %v", err)
	}
}

// EnsureCert reuses a stored key pair while it is current, and issues a
// new one when it names other things, comes from another CA, or is within
// a third of its lifetime of expiring.
func TestEnsureCertReuseAndReissue(t *testing.T) {
	t.Setenv(CertLifetimeEnv, "")
	sec := mustOpenSecrets(t, t.TempDir())
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	leaf := pki.Leaf{Name: "svc", DNSNames: []string{"svc"}, IPs: []net.IP{net.IPv4(10, 0, 0, 5)}, Server: true}
	cert, key, err := sec.EnsureCert(ca, "pki_svc", leaf)
	if err != nil {
		t.Fatal(err)
	}
	if mustGet(t, sec, "pki_svc_cert") != string(cert) || mustGet(t, sec, "pki_svc_key") != string(key) {
		t.Error("the key pair is not kept in the secrets")
	}
	if c2, k2, _ := sec.EnsureCert(ca, "pki_svc", leaf); !bytes.Equal(c2, cert) || !bytes.Equal(k2, key) {
		t.Error("a current certificate was reissued")
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		t.Errorf("certificate and key do not match: %v", err)
	}
	reissued := func(why string, l pki.Leaf) {
		t.Helper()
		before := mustGet(t, sec, "pki_svc_cert")
		c, _, err := sec.EnsureCert(ca, "pki_svc", l)
		if err != nil {
			t.Fatal(err)
		}
		if string(c) == before {
			t.Errorf("%s: the certificate was kept", why)
		}
		if !ca.Current(c, l, time.Now()) {
			t.Errorf("%s: the new certificate is not current", why)
		}
	}
	more := leaf
	more.DNSNames = []string{"svc", "svc.mesh"}
	reissued("a name added", more)
	client := more
	client.Client = true
	reissued("client use added", client)

	// Issued 300 days ago for a year: 65 days left, less than a third.
	old, oldKey, err := ca.Issue(client, time.Now().Add(-300*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sec.Set("pki_svc_cert", string(old))
	sec.Set("pki_svc_key", string(oldKey))
	reissued("near expiry", client)

	other, _, _ := pki.New("another CA", time.Now())
	foreign, foreignKey, _ := other.Issue(client, time.Now())
	sec.Set("pki_svc_cert", string(foreign))
	sec.Set("pki_svc_key", string(foreignKey))
	reissued("another CA's", client)
}

// The test-only lifetime applies to leaves that ask for none, a leaf's own
// lifetime wins, and a bad value stops issuing with the variable named.
func TestEnsureCertLifetime(t *testing.T) {
	sec := mustOpenSecrets(t, t.TempDir())
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	lifetime := func(pem []byte) time.Duration {
		c, err := pki.ParseCert(pem)
		if err != nil {
			t.Fatal(err)
		}
		return c.NotAfter.Sub(c.NotBefore) - time.Hour // NotBefore allows an hour of skew
	}
	t.Setenv(CertLifetimeEnv, "10m")
	cert, _, err := sec.EnsureCert(ca, "pki_a", pki.Leaf{Name: "a", Client: true})
	if err != nil || lifetime(cert) != 10*time.Minute {
		t.Errorf("with %s=10m: %v, lifetime %s", CertLifetimeEnv, err, lifetime(cert))
	}
	cert, _, err = sec.EnsureCert(ca, "pki_b", pki.Leaf{Name: "b", Client: true, Lifetime: 48 * time.Hour})
	if err != nil || lifetime(cert) != 48*time.Hour {
		t.Errorf("a leaf's own lifetime: %v, %s", err, lifetime(cert))
	}
	t.Setenv(CertLifetimeEnv, "30s")
	if d, err := CertLifetime(); err != nil || d != 30*time.Second {
		t.Errorf("the shortest allowed lifetime: %s, %v", d, err)
	}
	t.Setenv(CertLifetimeEnv, "29s")
	if _, _, err := sec.EnsureCert(ca, "pki_c", pki.Leaf{Name: "c", Client: true}); err == nil || !strings.Contains(err.Error(), CertLifetimeEnv) {
		t.Errorf("a lifetime below the minimum: %v", err)
	}
	if _, ok := sec.Get("pki_c_cert"); ok {
		t.Error("a certificate was stored although issuing failed")
	}
}

// Goroutines asking for the same due certificate at once get one.
func TestEnsureCertConcurrently(t *testing.T) {
	t.Setenv(CertLifetimeEnv, "")
	sec := mustOpenSecrets(t, t.TempDir())
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	certs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			certs[i], _, _ = sec.EnsureCert(ca, certMoatClient, moatClientLeaf())
		}()
	}
	wg.Wait()
	for i := range certs {
		if len(certs[i]) == 0 || !bytes.Equal(certs[i], certs[0]) {
			t.Fatalf("goroutine %d got another certificate", i)
		}
	}
}

// The planned certificates verify against moat's CA for the names moat
// and the nodes use: Consul's HTTPS server on loopback and its mesh name,
// each Trino node as server and client at its own address, and moat's
// client certificate as a client only.
func TestPlannedCertificatesVerify(t *testing.T) {
	t.Setenv(CertLifetimeEnv, "")
	c, sec, topo := provisionedPlan(t, "[trino]\nworkers = 2\n")
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	verify := func(what string, pemBytes []byte, usage x509.ExtKeyUsage, dns string, ip net.IP) {
		t.Helper()
		cert, err := pki.FirstCert(pemBytes)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: dns}); err != nil {
			t.Errorf("%s for %q: %v", what, dns, err)
		}
		if ip != nil && !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			t.Errorf("%s lacks IP %s: %v", what, ip, cert.IPAddresses)
		}
	}
	consul := mustService(t, topo, config.ServiceConsul)
	var serverPEM []byte
	for _, f := range consul.Files {
		if f.Path == ConsulSeal.CertFile {
			serverPEM = f.Content
		}
	}
	addr := config.PlanAddresses(c)
	for _, name := range []string{"localhost", config.ServiceConsul, "server." + c.Mesh.Datacenter + ".consul"} {
		verify("consul's certificate", serverPEM, x509.ExtKeyUsageServerAuth, name, nil)
	}
	verify("consul's certificate", serverPEM, x509.ExtKeyUsageServerAuth, "", net.IPv4(127, 0, 0, 1))
	verify("consul's certificate", serverPEM, x509.ExtKeyUsageServerAuth, "", net.IP(addr.Consul.AsSlice()))

	cl := TrinoCluster(c, sec)
	for _, n := range append([]trino.Node{cl.Coordinator}, cl.Workers...) {
		s := mustService(t, topo, n.ID)
		var keystore []byte
		for _, f := range s.Files {
			if f.Path == trino.KeystorePath {
				keystore = f.Content
			}
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			verify(n.ID+"'s keystore", keystore, usage, n.ID, net.IP(n.IP.AsSlice()))
		}
		if cert, _ := pki.FirstCert(keystore); cert == nil || cert.Subject.CommonName != n.ID {
			t.Errorf("%s's keystore starts with another certificate", n.ID)
		}
	}

	clientPEM, _, err := sec.EnsureCert(ca, certMoatClient, moatClientLeaf())
	if err != nil {
		t.Fatal(err)
	}
	verify("moat's client certificate", clientPEM, x509.ExtKeyUsageClientAuth, "", nil)
	if cert, _ := pki.FirstCert(clientPEM); !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("moat's client certificate may also serve: %v", cert.ExtKeyUsage)
	}
}

// TLS handshakes get moat's current client certificate: the same parsed
// one while it stays, the renewed one once it is replaced.
func TestClientCertificateFollowsRenewal(t *testing.T) {
	t.Setenv(CertLifetimeEnv, "")
	sec := mustOpenSecrets(t, t.TempDir())
	cc := &clientCertificate{sec: sec}
	first, err := cc.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cc.get(nil); again != first {
		t.Error("an unchanged certificate was parsed again")
	}
	leaf, _ := x509.ParseCertificate(first.Certificate[0])
	if leaf.Subject.CommonName != "moat" {
		t.Errorf("client certificate for %q", leaf.Subject.CommonName)
	}
	// A renewal: the stored certificate is no longer current.
	sec.Set(certMoatClient+"_cert", "")
	renewed, err := cc.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first || bytes.Equal(renewed.Certificate[0], first.Certificate[0]) {
		t.Error("the handshake still presents the old certificate")
	}
	if stored := mustGet(t, sec, certMoatClient+"_cert"); !strings.Contains(stored, "CERTIFICATE") {
		t.Error("the renewed certificate was not stored")
	}
}
