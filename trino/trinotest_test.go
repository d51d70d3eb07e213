package trino

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

// sidecar stands in for the coordinator's sidecar: it terminates TLS and hands
// the request on as plain HTTP, so the coordinator can only learn from
// X-Forwarded-Proto that the client's hop was encrypted.
func sidecar(t *testing.T, coordinator http.Handler) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain := r.Clone(r.Context())
		plain.TLS = nil
		coordinator.ServeHTTP(w, plain)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAgainstTrinotest runs the client, the password file and the rules moat
// writes against moat/trino/trinotest behind a TLS-terminating stand-in for
// the sidecar.
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
	coord := trinotest.NewServer(trinotest.Options{Coordinator: true, Environment: "moat", PasswordFile: pwfile,
		ProcessForwarded: true, DenyInsecureOverHTTP: true, Impersonation: imp, SystemInformation: sysinfo})
	t.Cleanup(coord.Close)
	worker := trinotest.NewServer(trinotest.Options{Environment: "moat", NodeID: "trino-worker-1", DiscoveryURI: coord.URL,
		AnnounceInterval: 50 * time.Millisecond, PasswordFile: pwfile, SystemInformation: sysinfo})
	t.Cleanup(worker.Close)
	side := sidecar(t, coord.Handler())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	info, err := Info(ctx, side.Client(), side.URL)
	if err != nil || info.Starting || !info.Coordinator || info.Environment != "moat" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	mgmt, err := Open(ctx, Endpoint{URL: side.URL, User: "moat", Password: "fake-moat-pw-c4b8", HTTPClient: side.Client(), Source: "moat"})
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
	asAlice, err := Open(ctx, Endpoint{URL: side.URL, User: "orchestrator", Password: "fake-orch-pw-2b77", SessionUser: "alice", HTTPClient: side.Client()})
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
	asCarol, _ := Open(ctx, Endpoint{URL: side.URL, User: "orchestrator", Password: "fake-orch-pw-2b77", SessionUser: "carol.d", HTTPClient: side.Client()})
	defer asCarol.Close()
	_, err = Query(ctx, asCarol, "SELECT 1", Handler{})
	var qe *QueryError
	if !errors.As(err, &qe) || !strings.Contains(strings.ToLower(err.Error()), "impersonate") {
		t.Errorf("impersonating carol.d: %v", err)
	}
	// Graceful shutdown of the worker (over HTTPS, as on port 8443): alice
	// may not, the management user may.
	workerTLS := httptest.NewTLSServer(worker.Handler())
	defer workerTLS.Close()
	err = Shutdown(ctx, workerTLS.Client(), workerTLS.URL, "alice", "fake-alice-pw-0e1d")
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: user alice needs system_information write") {
		t.Errorf("shutdown by alice: %v", err)
	}
	if err := Shutdown(ctx, workerTLS.Client(), workerTLS.URL, "moat", "fake-moat-pw-c4b8"); err != nil {
		t.Errorf("shutdown by moat: %v", err)
	}
	if err := Shutdown(ctx, http.DefaultClient, worker.URL, "moat", "fake-moat-pw-c4b8"); err == nil ||
		!strings.Contains(err.Error(), "refusing to send the password of moat over http") {
		t.Errorf("shutdown over plain http: %v", err)
	}
}

// A worker shuts down when moat signs the request with the shared secret:
// no password crosses the network, and plain HTTP to its private address
// is enough, as Trino accepts internal requests before its HTTP check.
func TestShutdownInternal(t *testing.T) {
	worker := trinotest.NewServer(trinotest.Options{NodeID: "trino-worker-1", Environment: "moat", SharedSecret: "fake-shared-secret-1"})
	defer worker.Close()
	ctx := context.Background()
	err := ShutdownInternal(ctx, http.DefaultClient, worker.URL, "another-secret", "moat")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "another-secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if worker.State() == trinotest.StateShuttingDown {
		t.Fatal("a request with the wrong secret shut the worker down")
	}
	if err := ShutdownInternal(ctx, http.DefaultClient, worker.URL, "fake-shared-secret-1", "moat"); err != nil {
		t.Fatal(err)
	}
	if worker.State() != trinotest.StateShuttingDown {
		t.Errorf("state %q after the shutdown request", worker.State())
	}
}
