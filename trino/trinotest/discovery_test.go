package trinotest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

var admin = []trinotest.SystemInformationRule{{User: "admin", Allow: []string{"read", "write"}}}

func activeWorkers(db *sql.DB) func() (int64, error) {
	return func() (int64, error) {
		var n int64
		err := db.QueryRow("SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'").Scan(&n)
		return n, err
	}
}

func want(count func() (int64, error), n int64) func() error {
	return func() error {
		got, err := count()
		if err == nil && got != n {
			err = fmt.Errorf("%d active workers, want %d", got, n)
		}
		return err
	}
}

func TestWorkersAnnounceAndShutDown(t *testing.T) {
	c := coordinator(t, trinotest.Options{Environment: "moat"})
	w1 := trinotest.NewServer(trinotest.Options{Environment: "moat", NodeID: "worker-1", DiscoveryURI: c.URL,
		SystemInformation: admin, GracePeriod: 20 * time.Millisecond})
	defer w1.Close()
	w2 := trinotest.NewServer(trinotest.Options{Environment: "moat", NodeID: "worker-2", DiscoveryURI: c.URL,
		DiscoveryType: trinotest.DiscoveryAirlift})
	defer w2.Close()
	other := trinotest.NewServer(trinotest.Options{Environment: "elsewhere", DiscoveryURI: c.URL})
	defer other.Close()

	db := open(t, trino.Config{ServerURI: userURL(c, "admin")})
	count := activeWorkers(db)
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "both workers active", want(count, 2))

	var uri string
	if err := db.QueryRow("SELECT http_uri FROM system.runtime.nodes WHERE node_id = 'worker-2'").Scan(&uri); err != nil || uri != w2.URL {
		t.Errorf("worker-2 http_uri = %q, %v; want %s", uri, err, w2.URL)
	}

	// Graceful shutdown: only a user allowed to write system information.
	doHTTP(t, "PUT", w1.URL+"/v1/info/state", `"SHUTTING_DOWN"`, http.Header{"X-Trino-User": {"alice"}}, http.StatusForbidden)
	doHTTP(t, "PUT", w1.URL+"/v1/info/state", `"SHUTTING_DOWN"`, http.Header{"X-Trino-User": {"admin"}}, http.StatusOK)
	if b := doHTTP(t, "GET", w1.URL+"/v1/info/state", "", nil, http.StatusOK); string(b) != "\"SHUTTING_DOWN\"\n" {
		t.Errorf("/v1/info/state = %s", b)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "one worker active", want(count, 1))
	var state string
	if err := db.QueryRow("SELECT state FROM system.runtime.nodes WHERE node_id = 'worker-1'").Scan(&state); err != nil || state != "shutting_down" {
		t.Errorf("worker-1 state = %q, %v; want shutting_down", state, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-w1.Done():
	case <-ctx.Done():
		t.Fatal("graceful shutdown did not complete")
	}
}
