package trinotest_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"

	"moat/internal/testenv"
	"moat/pki"
	"moat/trino/trinotest"
)

// testCA is a CA of the test's own (moat's CA in production) and the files
// made from it.
type testCA struct {
	ca     *pki.CA
	dir    string
	caPath string // the CA certificate, PEM: a truststore
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca, _, err := pki.New(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &testCA{ca: ca, dir: dir, caPath: filepath.Join(dir, "ca.pem")}
	writeFile(t, p.caPath, ca.CertPEM)
	return p
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// keystore issues a server and client certificate for a node named name on
// 127.0.0.1 and writes it as Trino's PEM keystore: key, leaf, CA.
func (p *testCA) keystore(t *testing.T, name string) string {
	t.Helper()
	cert, key, err := p.ca.Issue(pki.Leaf{Name: name, DNSNames: []string{"localhost", name},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.dir, name+".pem")
	writeFile(t, path, bytes.Join([][]byte{key, cert, p.ca.CertPEM}, nil))
	return path
}

func (p *testCA) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return pool
}

// tlsNode returns the options of a node as moat renders it: HTTPS only,
// its keystore from ca, moat's CA as every truststore, internal HTTPS
// required with the shared secret.
func tlsNode(t *testing.T, ca *testCA, trust *testCA, id string) trinotest.Options {
	ks := ca.keystore(t, id)
	return trinotest.Options{Environment: "moat", NodeID: id, SharedSecret: fakeSecret,
		HTTPDisabled: true, KeystorePath: ks, TruststorePath: trust.caPath,
		InternalHTTPS: true, InternalKeystorePath: ks, InternalTruststorePath: trust.caPath,
		DenyInsecureOverHTTP: true, AnnounceInterval: 50 * time.Millisecond}
}

// recordingTransport remembers the URL of every request.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	urls []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.Method+" "+req.URL.String())
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

// caOnlyClient trusts nothing but ca, as a client given only moat's CA file.
func caOnlyClient(ca *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca, ServerName: "127.0.0.1"}}}
}

// TestKeystoreHTTPSCluster runs nodes configured as moat renders them and
// talks to them as the official clients do, with nothing but the CA file.
func TestKeystoreHTTPSCluster(t *testing.T) {
	moatCA, otherCA := newTestCA(t, "moat-ca"), newTestCA(t, "another-ca")
	passwords := []byte("alice:" + hash(t, "alice-pw") + "\nmoat:" + hash(t, "moat-pw") + "\n")
	var clogs logBuffer
	co := tlsNode(t, moatCA, moatCA, "trino-coordinator")
	co.Coordinator, co.PasswordFile, co.Logger = true, passwords, clogs.logger()
	moatOnly := []trinotest.SystemInformationRule{{User: "moat", Allow: []string{"read", "write"}}}
	co.SystemInformation = moatOnly
	c := trinotest.NewServer(co)
	t.Cleanup(c.Close)
	if c.URL != c.HTTPSURL || !strings.HasPrefix(c.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %q HTTPSURL %q: want a single https URL (no plaintext port)", c.URL, c.HTTPSURL)
	}
	start := func(o trinotest.Options, logs *logBuffer) *trinotest.Server {
		o.DiscoveryURI, o.PasswordFile, o.SystemInformation = c.HTTPSURL, passwords, moatOnly
		if logs != nil {
			o.Logger = logs.logger()
		}
		w := trinotest.NewServer(o)
		t.Cleanup(w.Close)
		return w
	}
	w1 := start(tlsNode(t, moatCA, moatCA, "trino-worker-1"), nil)
	// A node whose certificate comes from another CA: it trusts the
	// coordinator and announces, but the coordinator cannot verify it.
	start(tlsNode(t, otherCA, moatCA, "foreign-cert"), nil)
	// A node that does not trust moat's CA cannot even announce.
	var untrusting logBuffer
	start(tlsNode(t, moatCA, otherCA, "foreign-trust"), &untrusting)

	// trino-go-client v1.1.0 with nothing but the CA.
	rec := &recordingTransport{base: caOnlyClient(moatCA.pool()).Transport}
	db := open(t, trino.Config{ServerURI: strings.Replace(c.URL, "https://", "https://alice:alice-pw@", 1), HTTPClient: &http.Client{Transport: rec}})
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "one active worker", want(activeWorkers(db), 1))
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
		t.Fatalf("query with the CA only: %d, %v", n, err)
	}
	var uri string
	if err := db.QueryRow("SELECT http_uri FROM system.runtime.nodes WHERE node_id = 'trino-worker-1'").Scan(&uri); err != nil || uri != w1.HTTPSURL {
		t.Errorf("trino-worker-1 http_uri = %q, %v; want %s", uri, err, w1.HTTPSURL)
	}
	rec.mu.Lock()
	if len(rec.urls) < 4 {
		t.Errorf("only %d requests recorded: %v", len(rec.urls), rec.urls)
	}
	for _, u := range rec.urls {
		if !strings.Contains(u, " https://127.0.0.1:") {
			t.Errorf("the client followed %s: nextUri must stay https", u)
		}
	}
	rec.mu.Unlock()

	clogs.contains(t, "certificate signed by unknown authority") // the foreign certificate
	untrusting.contains(t, "certificate signed by unknown authority")
	if n, err := activeWorkers(db)(); err != nil || n != 1 {
		t.Errorf("%d active workers, %v; want only trino-worker-1", n, err)
	}

	// A client that does not trust moat's CA fails at the handshake.
	system := open(t, trino.Config{ServerURI: strings.Replace(c.URL, "https://", "https://alice:alice-pw@", 1), HTTPClient: &http.Client{}})
	if err := system.QueryRow("SELECT 1").Scan(&n); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("client without moat's CA: %v, want a certificate error", err)
	}

	// Plain HTTP to the HTTPS port gets no Trino answer.
	plainURL := strings.Replace(c.URL, "https://", "http://", 1)
	for _, req := range []*http.Request{
		mustRequest(t, "GET", plainURL+"/v1/info", "", nil),
		mustRequest(t, "POST", plainURL+"/v1/statement", "SELECT 1", http.Header{"X-Trino-User": {"alice"}}),
	} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // refused outright: no answer at all
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("nodeVersion")) || bytes.Contains(body, []byte("nextUri")) {
			t.Errorf("plain HTTP %s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
		}
	}

	// X-Forwarded-Proto is refused on every path, whoever sends it.
	client := caOnlyClient(moatCA.pool())
	forged := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/info", ""}, {"POST", "/v1/statement", "SELECT 1"}, {"PUT", "/v1/info/state", `"SHUTTING_DOWN"`},
		{"POST", "/v1/announce", "https://127.0.0.1:1"}, {"GET", "/ui/", ""},
	} {
		doWith(t, client, tc.method, c.URL+tc.path, tc.body, forged, http.StatusNotAcceptable, "X-Forwarded-Proto")
	}
	if c.State() != trinotest.StateActive {
		t.Fatal("a forged request shut the coordinator down")
	}
	// The management user shuts a worker down over TLS.
	doWith(t, client, "PUT", w1.URL+"/v1/info/state", `"SHUTTING_DOWN"`, basicAuth("moat", "moat-pw"), http.StatusOK, "")
	if w1.State() != trinotest.StateShuttingDown {
		t.Errorf("trino-worker-1 is %s after moat's PUT over TLS", w1.State())
	}
}

func mustRequest(t *testing.T, method, url, body string, h http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req
}

func basicAuth(user, pw string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	r.Header.Set("Content-Type", "application/json")
	return r.Header
}

// A node presents its internal keystore as a client certificate; Trino's
// HTTPS server wants one and verifies it against
// http-server.https.truststore.path, the JVM's roots without it. Without
// moat's CA there, a peer is refused at the handshake: why moat renders
// that property too.
func TestClientCertificateNeedsServerTruststore(t *testing.T) {
	moatCA := newTestCA(t, "moat-ca")
	var clogs logBuffer
	co := tlsNode(t, moatCA, moatCA, "trino-coordinator")
	co.Coordinator, co.TruststorePath, co.Logger = true, "", clogs.logger()
	c := trinotest.NewServer(co)
	t.Cleanup(c.Close)
	var wlogs logBuffer
	wo := tlsNode(t, moatCA, moatCA, "trino-worker-1")
	wo.DiscoveryURI, wo.Logger = c.HTTPSURL, wlogs.logger()
	w := trinotest.NewServer(wo)
	t.Cleanup(w.Close)
	wlogs.contains(t, "Error announcing node state")
	if !strings.Contains(clogs.String(), "certificate signed by unknown authority") && !strings.Contains(wlogs.String(), "bad certificate") {
		t.Errorf("want the handshake refused for the client certificate; coordinator logs:\n%s\nworker logs:\n%s", clogs.String(), wlogs.String())
	}
}

// trinotest refuses to start where Trino refuses to, with Trino's words.
func TestKeystoreRefusals(t *testing.T) {
	moatCA, otherCA := newTestCA(t, "moat-ca"), newTestCA(t, "another-ca")
	good := moatCA.keystore(t, "node")
	cert, key, err := moatCA.ca.Issue(pki.Leaf{Name: "n", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := otherCA.ca.Issue(pki.Leaf{Name: "n", Server: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, parts ...[]byte) string {
		p := filepath.Join(t.TempDir(), name)
		writeFile(t, p, bytes.Join(parts, nil))
		return p
	}
	certOnly, keyOnly := file("cert.pem", cert, moatCA.ca.CertPEM), file("key.pem", key)
	mismatch := file("mismatch.pem", otherKey, cert)
	notPEM, empty := file("keystore.jks", []byte{0xfe, 0xed, 0xfe, 0xed}), file("empty.pem", []byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	base := func(change func(*trinotest.Options)) trinotest.Options {
		o := tlsNode(t, moatCA, moatCA, "n")
		o.KeystorePath, o.InternalKeystorePath = good, good
		change(&o)
		return o
	}
	for _, tc := range []struct {
		name   string
		opts   trinotest.Options
		wanted string
	}{
		{"missing keystore", base(func(o *trinotest.Options) { o.KeystorePath = missing }), "Error reading key store file: " + missing},
		{"no key", base(func(o *trinotest.Options) { o.KeystorePath = certOnly }), "Error loading PEM key store: " + certOnly + ": did not find a private key"},
		{"no certificate", base(func(o *trinotest.Options) { o.KeystorePath = keyOnly }), "Certificate file does not contain any certificates"},
		{"key of another certificate", base(func(o *trinotest.Options) { o.KeystorePath = mismatch }), "Private key does not match the public key of any certificate"},
		{"not PEM", base(func(o *trinotest.Options) { o.KeystorePath = notPEM }), "Error loading Java key store"},
		{"https without keystore", base(func(o *trinotest.Options) { o.KeystorePath = "" }), "Keystore path or automatic HTTPS shared secret must be provided when HTTPS is enabled"},
		{"internal https without secret", base(func(o *trinotest.Options) { o.SharedSecret = "" }), "Internal shared secret is required when HTTPS is enabled for internal communications"},
		{"automatic https without secret", base(func(o *trinotest.Options) {
			o.SharedSecret, o.InternalKeystorePath, o.InternalTruststorePath = "", "", ""
		}), "Internal shared secret must be set when internal HTTPS is enabled"},
		{"internal keystore missing", base(func(o *trinotest.Options) { o.InternalKeystorePath = missing }), "internal-communication.https.keystore.path: file does not exist"},
		{"internal truststore missing", base(func(o *trinotest.Options) { o.InternalTruststorePath = missing }), "internal-communication.https.truststore.path: file does not exist"},
		{"empty truststore", base(func(o *trinotest.Options) { o.InternalTruststorePath = empty }), "the trustAnchors parameter must be non-empty"},
		{"no port at all", trinotest.Options{HTTPDisabled: true}, "the server would open no port"},
		{"https only without internal https", base(func(o *trinotest.Options) { o.InternalHTTPS = false }), "needs internal-communication.https.required=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := trinotest.NewUnstartedServer(tc.opts)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wanted) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.wanted)
			}
		})
	}
	if s, err := trinotest.NewUnstartedServer(base(func(*trinotest.Options) {})); err != nil {
		t.Errorf("the good configuration: %v", err)
	} else {
		s.Close()
	}
}
