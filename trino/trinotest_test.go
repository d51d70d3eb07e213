package trino

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/pki"
	"moat/trino/trinotest"
)

// clusterTLS is moat's CA and the keystores it issues for a cluster's nodes
// (NodeCertNames, KeystorePEM), written where trinotest reads them.
type clusterTLS struct {
	ca        *pki.CA
	caPath    string
	keystores map[string]string // node ID -> keystore path
}

func newClusterTLS(t *testing.T, c Cluster) *clusterTLS {
	t.Helper()
	ca, _, err := pki.New("moat test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ct := &clusterTLS{ca: ca, caPath: filepath.Join(dir, "ca.pem"), keystores: map[string]string{}}
	write(t, ct.caPath, ca.CertPEM)
	for _, n := range c.nodes() {
		dns, ips := NodeCertNames(c, n)
		cert, key, err := ca.Issue(pki.Leaf{Name: n.ID, DNSNames: dns, IPs: ips, Server: true, Client: true}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ct.keystores[n.ID] = filepath.Join(dir, n.ID+".pem")
		write(t, ct.keystores[n.ID], KeystorePEM(cert, key, ca.CertPEM))
	}
	return ct
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// options are a node's trinotest options as RenderNode configures it:
// HTTPS only, keystore and truststore from moat's CA, internal HTTPS.
func (ct *clusterTLS) options(id string) trinotest.Options {
	return trinotest.Options{Environment: "moat", NodeID: id, SharedSecret: "fake-shared-secret-7f3a",
		HTTPDisabled: true, KeystorePath: ct.keystores[id], TruststorePath: ct.caPath,
		InternalHTTPS: true, InternalKeystorePath: ct.keystores[id], InternalTruststorePath: ct.caPath,
		DenyInsecureOverHTTP: true}
}

// client trusts moat's CA and nothing else, as a client given the CA file.
func (ct *clusterTLS) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ct.ca.Cert)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
}

// TestAgainstTrinotest runs the client, the password file, the rules and
// the certificates moat writes against moat/trino/trinotest serving HTTPS
// only, reached with nothing but moat's CA.
func TestAgainstTrinotest(t *testing.T) {
	users := testUsers()
	pwfile, err := PasswordFile(users, MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Rules(testPolicies(), SystemUsers{Management: "moat", Orchestrator: "orchestrator"})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := trinotest.LoadRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	sysinfo, err := trinotest.LoadSystemInformationRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	cluster := testCluster(1)
	cluster.Coordinator.IP, cluster.Workers[0].IP = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	ct := newClusterTLS(t, cluster)
	co := ct.options(cluster.Coordinator.ID)
	co.Coordinator, co.PasswordFile, co.Impersonation, co.SystemInformation = true, pwfile, imp, sysinfo
	coord := trinotest.NewServer(co)
	t.Cleanup(coord.Close)
	wo := ct.options(cluster.Workers[0].ID)
	wo.DiscoveryURI, wo.AnnounceInterval, wo.PasswordFile, wo.SystemInformation = coord.HTTPSURL, 50*time.Millisecond, pwfile, sysinfo
	worker := trinotest.NewServer(wo)
	t.Cleanup(worker.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	info, err := Info(ctx, ct.client(), coord.URL)
	if err != nil || info.Starting || !info.Coordinator || info.Environment != "moat" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	mgmt, err := Open(ctx, Endpoint{URL: coord.URL, User: "moat", Password: "fake-moat-pw-c4b8", HTTPClient: ct.client(), Source: "moat"})
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, "one active worker", func() error {
		n, err := ActiveWorkers(ctx, mgmt)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d active workers", n)
		}
		return err
	})

	// The orchestrator runs a report as alice (a report owner).
	asAlice, err := Open(ctx, Endpoint{URL: coord.URL, User: "orchestrator", Password: "fake-orch-pw-2b77", SessionUser: "alice", HTTPClient: ct.client()})
	if err != nil {
		t.Fatal(err)
	}
	defer asAlice.Close()
	var got []any
	if _, err := Query(ctx, asAlice, "SELECT current_user", Handler{Row: func(v []any) error { got = append(got, v...); return nil }}); err != nil {
		t.Fatalf("query as alice: %v", err)
	}
	if fmt.Sprint(got) != "[alice]" {
		t.Errorf("current_user = %v, want alice", got)
	}
	// carol.d owns no report: impersonating her is refused.
	asCarol, _ := Open(ctx, Endpoint{URL: coord.URL, User: "orchestrator", Password: "fake-orch-pw-2b77", SessionUser: "carol.d", HTTPClient: ct.client()})
	defer asCarol.Close()
	_, err = Query(ctx, asCarol, "SELECT 1", Handler{})
	var qe *QueryError
	if !errors.As(err, &qe) || !strings.Contains(strings.ToLower(err.Error()), "impersonate") {
		t.Errorf("impersonating carol.d: %v", err)
	}
	// Graceful shutdown of the worker over its HTTPS port: alice may not,
	// the management user may.
	err = Shutdown(ctx, ct.client(), worker.URL, "alice", "fake-alice-pw-0e1d")
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: user alice needs system_information write") {
		t.Errorf("shutdown by alice: %v", err)
	}
	if err := Shutdown(ctx, ct.client(), worker.URL, "moat", "fake-moat-pw-c4b8"); err != nil {
		t.Errorf("shutdown by moat: %v", err)
	}
	if err := Shutdown(ctx, http.DefaultClient, strings.Replace(worker.URL, "https://", "http://", 1), "moat", "fake-moat-pw-c4b8"); err == nil ||
		!strings.Contains(err.Error(), "refusing to send the password of moat over http") {
		t.Errorf("shutdown over plain http: %v", err)
	}
}

// A worker shuts down when moat signs the request with the shared secret:
// no password is needed, and the request travels over the worker's only
// port, HTTPS verified against moat's CA.
func TestShutdownInternal(t *testing.T) {
	cluster := testCluster(1)
	cluster.Coordinator.IP, cluster.Workers[0].IP = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	ct := newClusterTLS(t, cluster)
	o := ct.options("trino-worker-1")
	o.SharedSecret = "fake-shared-secret-1"
	worker := trinotest.NewServer(o)
	defer worker.Close()
	ctx := context.Background()
	err := ShutdownInternal(ctx, ct.client(), worker.URL, "another-secret", "moat")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "another-secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if worker.State() == trinotest.StateShuttingDown {
		t.Fatal("a request with the wrong secret shut the worker down")
	}
	if err := ShutdownInternal(ctx, http.DefaultClient, worker.URL, "fake-shared-secret-1", "moat"); err == nil ||
		!strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("shutdown with a client that does not trust moat's CA: %v", err)
	}
	if err := ShutdownInternal(ctx, ct.client(), worker.URL, "fake-shared-secret-1", "moat"); err != nil {
		t.Fatal(err)
	}
	if worker.State() != trinotest.StateShuttingDown {
		t.Errorf("state %q after the shutdown request", worker.State())
	}
}
