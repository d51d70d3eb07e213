package trino

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/pki"
	"moat/trino/trinotest"
)

// A worker's readiness as the coordinator sees it (what moat's gate asks
// through the mesh): not listed before it has started and announced itself,
// active once it has, shutting_down once asked to drain.
func TestWorkerReadyThroughCoordinator(t *testing.T) {
	users := testUsers()
	pwfile, err := PasswordFile(users, MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	cluster := testCluster(1)
	cluster.Coordinator.IP, cluster.Workers[0].IP = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	ct := newClusterTLS(t, cluster)
	co := ct.options(cluster.Coordinator.ID)
	co.Coordinator, co.PasswordFile = true, pwfile
	coord := trinotest.NewServer(co)
	t.Cleanup(coord.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, Endpoint{URL: coord.URL, User: "moat", Password: "fake-moat-pw-c4b8", HTTPClient: ct.client(), Source: "moat-readiness"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := cluster.Workers[0].ID
	states, err := NodeStates(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if states[cluster.Coordinator.ID] != "active" {
		t.Errorf("NodeStates = %v, want the coordinator active", states)
	}
	if err := WorkerReady(states, id); err == nil || !strings.Contains(err.Error(), "does not list "+id+" yet") {
		t.Errorf("WorkerReady before the worker runs: %v", err)
	}

	wo := ct.options(id)
	wo.DiscoveryURI, wo.AnnounceInterval, wo.PasswordFile = coord.HTTPSURL, 50*time.Millisecond, pwfile
	worker := trinotest.NewServer(wo)
	t.Cleanup(worker.Close)
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, id+" active", func() error {
		states, err := NodeStates(ctx, db)
		if err != nil {
			return err
		}
		return WorkerReady(states, id)
	})

	if err := NewShutdownRequest(worker.URL, wo.SharedSecret, "moat", ct.ca.CertPEM, time.Now()).Send(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, id+" shutting down", func() error {
		states, err := NodeStates(ctx, db)
		if err != nil {
			return err
		}
		switch err := WorkerReady(states, id); {
		case err == nil:
			return errors.New("still listed as active")
		case !strings.Contains(err.Error(), "as shutting_down, not active"):
			return err
		}
		return nil
	})
}

// A shutdown request signed in one place and sent from another carries a
// signed token, not the shared secret; it verifies the node against the CA
// it carries, and its errors quote neither.
func TestShutdownRequest(t *testing.T) {
	cluster := testCluster(1)
	cluster.Coordinator.IP, cluster.Workers[0].IP = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	ct := newClusterTLS(t, cluster)
	o := ct.options("trino-worker-1")
	o.SharedSecret = "fake-shared-secret-1"
	worker := trinotest.NewServer(o)
	defer worker.Close()
	ctx := context.Background()

	wrong := NewShutdownRequest(worker.URL, "another-secret", "moat", ct.ca.CertPEM, time.Now())
	if err := wrong.Send(ctx); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), wrong.Token) {
		t.Errorf("wrong secret: %v", err)
	}
	other, _, err := pki.New("another CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	untrusted := NewShutdownRequest(worker.URL, "fake-shared-secret-1", "moat", other.CertPEM, time.Now())
	if err := untrusted.Send(ctx); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a node not issued by the request's CA: %v", err)
	}
	if err := (ShutdownRequest{URL: strings.Replace(worker.URL, "https", "http", 1), CAPEM: ct.ca.CertPEM}).Send(ctx); err == nil || !strings.Contains(err.Error(), "not an https URL") {
		t.Errorf("plain http: %v", err)
	}
	if worker.State() == trinotest.StateShuttingDown {
		t.Fatal("a refused request shut the worker down")
	}

	req := NewShutdownRequest(worker.URL, "fake-shared-secret-1", "moat", ct.ca.CertPEM, time.Now())
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "fake-shared-secret-1") {
		t.Errorf("the request carries the shared secret: %s", b)
	}
	var sent ShutdownRequest
	if err := json.Unmarshal(b, &sent); err != nil {
		t.Fatal(err)
	}
	if err := sent.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if worker.State() != trinotest.StateShuttingDown {
		t.Errorf("state %q after the shutdown request", worker.State())
	}
}
