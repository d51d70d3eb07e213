package trinotest_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

const fakeSecret = "fake-shared-secret-7f3a"

// logBuffer collects a server's logs; safe for the server's goroutines and
// the test to share.
type logBuffer struct{ testenv.SyncBuffer }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// contains waits until the logs hold want.
func (b *logBuffer) contains(t *testing.T, want string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "log line "+want, func() error {
		if !strings.Contains(b.String(), want) {
			return fmt.Errorf("logs lack %q:\n%s", want, b.String())
		}
		return nil
	})
}

// secureWorker starts a worker as moat renders one: shared secret, automatic
// internal HTTPS, announcing to discoveryURI.
func secureWorker(t *testing.T, id, secret, discoveryURI string, logs *logBuffer, extra trinotest.Options) *trinotest.Server {
	t.Helper()
	o := extra
	o.Environment, o.NodeID, o.SharedSecret, o.InternalHTTPS = "moat", id, secret, true
	o.DiscoveryURI, o.AnnounceInterval = discoveryURI, 50*time.Millisecond
	if logs != nil {
		o.Logger = logs.logger()
	}
	w := trinotest.NewServer(o)
	t.Cleanup(w.Close)
	return w
}

func secureCoordinator(t *testing.T, logs *logBuffer) *trinotest.Server {
	t.Helper()
	return coordinator(t, trinotest.Options{Environment: "moat", SharedSecret: fakeSecret, InternalHTTPS: true,
		ProcessForwarded: true, Logger: logs.logger()})
}

func TestInternalHTTPSCluster(t *testing.T) {
	var clogs logBuffer
	c := secureCoordinator(t, &clogs)
	if !strings.HasPrefix(c.HTTPSURL, "https://127.0.0.1:") {
		t.Fatalf("HTTPSURL = %q", c.HTTPSURL)
	}
	w1 := secureWorker(t, "worker-1", fakeSecret, c.HTTPSURL, nil, trinotest.Options{})
	secureWorker(t, "worker-2", fakeSecret, c.HTTPSURL, nil, trinotest.Options{})
	var wrongTLS, wrongHTTP, plain logBuffer
	secureWorker(t, "wrong-secret-https", "not-the-secret", c.HTTPSURL, &wrongTLS, trinotest.Options{})
	secureWorker(t, "wrong-secret-http", "not-the-secret", c.URL, &wrongHTTP, trinotest.Options{})
	secureWorker(t, "plain-to-https", fakeSecret, strings.Replace(c.HTTPSURL, "https://", "http://", 1), &plain, trinotest.Options{})

	db := open(t, trino.Config{ServerURI: userURL(c, "admin")})
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "both workers active", want(activeWorkers(db), 2))
	var uri string
	if err := db.QueryRow("SELECT http_uri FROM system.runtime.nodes WHERE node_id = 'worker-1'").Scan(&uri); err != nil || uri != w1.HTTPSURL {
		t.Errorf("worker-1 http_uri = %q, %v; want its https URI %s", uri, err, w1.HTTPSURL)
	}

	// Another secret means another CA: the TLS handshake fails before any
	// JWT is sent.
	wrongTLS.contains(t, "certificate signed by unknown authority")
	// Over the coordinator's plain HTTP port the JWT is checked: 401.
	wrongHTTP.contains(t, "status 401 Unauthorized")
	clogs.contains(t, "Internal authentication failed")
	// Plain HTTP to the HTTPS port.
	plain.contains(t, "Client sent an HTTP request to an HTTPS server")
	if n, err := activeWorkers(db)(); err != nil || n != 2 {
		t.Errorf("%d active workers, %v; want only the two with the right secret", n, err)
	}
	if strings.Contains(clogs.String(), fakeSecret) || strings.Contains(wrongHTTP.String(), "not-the-secret") {
		t.Error("a log line shows a shared secret")
	}
}

func TestAnnounceIsInternalOnly(t *testing.T) {
	c := secureCoordinator(t, &logBuffer{})
	client := c.Client()
	doWith(t, client, "POST", c.HTTPSURL+"/v1/announce", "https://127.0.0.1:1", nil, http.StatusForbidden, "Internal only resource")
	forged := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	doWith(t, client, "POST", c.HTTPSURL+"/v1/announce", "https://127.0.0.1:1", http.Header{"X-Trino-Internal-Bearer": {forged}}, http.StatusUnauthorized, "")
	doWith(t, client, "PUT", c.URL+"/v1/announcement/x", "{}", nil, http.StatusForbidden, "Internal only resource")
	// /v1/info stays public on both ports.
	doWith(t, client, "GET", c.HTTPSURL+"/v1/info", "", nil, http.StatusOK, `"coordinator":true`)
	doWith(t, client, "GET", c.URL+"/v1/info", "", nil, http.StatusOK, `"coordinator":true`)
}

// doWith sends a request with client and fails t unless the status is
// wantStatus and the body contains wantBody.
func doWith(t *testing.T, client *http.Client, method, url, body string, header http.Header, wantStatus int, wantBody string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != wantStatus || !strings.Contains(b.String(), wantBody) {
		t.Errorf("%s %s: %d %q, want %d containing %q", method, url, resp.StatusCode, b.String(), wantStatus, wantBody)
	}
}

func TestPasswordOverAutomaticHTTPS(t *testing.T) {
	c := coordinator(t, trinotest.Options{Environment: "moat", SharedSecret: fakeSecret, InternalHTTPS: true,
		DenyInsecureOverHTTP: true, PasswordFile: []byte("alice:" + hash(t, "alice-pw") + "\n")})
	db := open(t, trino.Config{ServerURI: strings.Replace(c.HTTPSURL, "https://", "https://alice:alice-pw@", 1), HTTPClient: c.Client()})
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
		t.Fatalf("password over HTTPS: %d, %v", n, err)
	}
	plain := open(t, trino.Config{ServerURI: userURL(c, "alice")})
	err := plain.QueryRow("SELECT 1").Scan(&n)
	var qf *trino.ErrQueryFailed
	if !errors.As(err, &qf) || qf.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "Authentication over HTTP is not enabled") {
		t.Errorf("plain HTTP with allow-insecure-over-http=false: %v, want 403 Authentication over HTTP is not enabled", err)
	}
}

// TestShutdownOverHTTPS: moat's management user shuts a worker down over
// HTTPS with basic auth; over plain HTTP X-Forwarded-Proto counts only with
// http-server.process-forwarded.
func TestShutdownOverHTTPS(t *testing.T) {
	moatOnly := []trinotest.SystemInformationRule{{User: "moat", Allow: []string{"read", "write"}}, {}}
	passwords := []byte("moat:" + hash(t, "moat-pw") + "\nalice:" + hash(t, "alice-pw") + "\n")
	opts := trinotest.Options{PasswordFile: passwords, SystemInformation: moatOnly}
	w := secureWorker(t, "worker-1", fakeSecret, "", nil, opts)
	client := w.Client()
	basic := func(user, pw string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pw)
		return r.Header
	}
	state := w.HTTPSURL + "/v1/info/state"
	doWith(t, client, "PUT", state, `"SHUTTING_DOWN"`, basic("alice", "alice-pw"), http.StatusForbidden, "Management only resource")
	doWith(t, client, "PUT", state, `"SHUTTING_DOWN"`, basic("moat", "wrong"), http.StatusUnauthorized, "Invalid credentials")
	forwarded := basic("moat", "moat-pw")
	forwarded.Set("X-Forwarded-Proto", "https")
	doWith(t, client, "PUT", w.URL+"/v1/info/state", `"SHUTTING_DOWN"`, forwarded, http.StatusNotAcceptable, "X-Forwarded-Proto")
	if w.State() != trinotest.StateActive {
		t.Fatal("a refused request shut the worker down")
	}
	doWith(t, client, "PUT", state, `"SHUTTING_DOWN"`, basic("moat", "moat-pw"), http.StatusOK, "")
	if w.State() != trinotest.StateShuttingDown {
		t.Errorf("state %s after moat's PUT over HTTPS", w.State())
	}

	opts.ProcessForwarded = true
	proxied := secureWorker(t, "worker-2", fakeSecret, "", nil, opts)
	doWith(t, client, "PUT", proxied.URL+"/v1/info/state", `"SHUTTING_DOWN"`, forwarded, http.StatusOK, "")
	if proxied.State() != trinotest.StateShuttingDown {
		t.Errorf("state %s after moat's PUT with X-Forwarded-Proto and process-forwarded", proxied.State())
	}
}
