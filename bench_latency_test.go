package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/internal/testenv"
	"moat/pki"
	"moat/trino"
	"moat/trino/trinotest"
)

// latencyRuns is how many times each query runs on each path.
const latencyRuns = 200

// BenchmarkQueryLatency: SELECT 1 and the 25 nations, latencyRuns times
// each, on three paths measured side by side (interleaved, so that the
// machine's load falls on all alike), with trino-go-client throughout:
//
//   - mesh: moat's own client, as `moat query` and reports use it
//     (Connect-native mTLS as orchestrator to the coordinator's sidecar,
//     Trino's TLS inside, verified against moat's CA);
//   - host: the host endpoint (mesh.workstation_port) with the CA alone,
//     the user's password checked by Trino;
//   - direct: a trinotest coordinator on loopback, HTTPS from a moat-CA
//     keystore and the same password check, no mesh.
//
// It reports, per query and path, the median and p99 in milliseconds, and
// the mesh and host paths' median and p99 over direct's. Nothing is
// asserted but the results.
func BenchmarkQueryLatency(b *testing.B) {
	s := newMeshStack(b, false)
	s.mustMoat("up", "-d")
	ctx := context.Background()
	cfg, err := config.Load(s.config)
	if err != nil {
		b.Fatal(err)
	}
	sec, err := appliance.OpenSecretsReadOnly(cfg.DataDir())
	if err != nil {
		b.Fatal(err)
	}
	ctl := control.NewControl(cfg, sec, nil)
	defer ctl.Close()
	meshDB, err := ctl.DB(ctx, "analyst", "moat-bench") // as `moat query --user analyst`
	if err != nil {
		b.Fatal(err)
	}
	defer meshDB.Close()
	var cs ConnectSettings
	if err := json.Unmarshal([]byte(s.mustMoat("connect", "--json")), &cs); err != nil {
		b.Fatal(err)
	}
	hostDB := workstationDB(b, cs, strings.TrimSpace(s.mustMoat("secrets", "show", "user_analyst")))
	testenv.Eventually(b, 30*time.Second, 100*time.Millisecond, "the host endpoint answers", func() error {
		return hostDB.PingContext(ctx)
	})
	paths := []struct {
		name string
		db   *sql.DB
	}{{"direct", directTrinotest(b)}, {"mesh", meshDB}, {"host", hostDB}}
	queries := []struct{ name, sql string }{
		{"select1", "SELECT 1"},
		{"nations", "SELECT nationkey, name, regionkey, comment FROM tpch.tiny.nation"},
	}
	want := map[string]int{"select1": 1, "nations": 25}
	samples := map[string][]float64{} // query/path -> milliseconds
	for i := range latencyRuns + 1 {
		for _, q := range queries {
			for _, p := range paths {
				start := time.Now()
				n, err := countRows(ctx, p.db, q.sql)
				d := time.Since(start)
				if err != nil || n != want[q.name] {
					b.Fatalf("%s over %s: %d rows, %v", q.name, p.name, n, err)
				}
				if i > 0 { // the first run of each warms connections and leaves
					samples[q.name+"/"+p.name] = append(samples[q.name+"/"+p.name], float64(d.Microseconds())/1000)
				}
			}
		}
	}
	for _, q := range queries {
		direct := samples[q.name+"/direct"]
		for _, p := range paths {
			xs := samples[q.name+"/"+p.name]
			med, p99 := percentile(xs, 0.5), percentile(xs, 0.99)
			b.ReportMetric(med, q.name+"_"+p.name+"_p50_ms")
			b.ReportMetric(p99, q.name+"_"+p.name+"_p99_ms")
			if p.name != "direct" {
				b.ReportMetric(med/percentile(direct, 0.5), q.name+"_"+p.name+"_p50_x_direct")
				b.ReportMetric(p99/percentile(direct, 0.99), q.name+"_"+p.name+"_p99_x_direct")
			}
			b.Logf("%-8s %-6s median %7.2f ms  p99 %7.2f ms  (%d runs)", q.name, p.name, med, p99, len(xs))
		}
	}
	b.ReportMetric(0, "ns/op")
}

// countRows runs sql and reads every row.
func countRows(ctx context.Context, db *sql.DB, sql string) (int, error) {
	rows, err := db.QueryContext(ctx, sql)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// percentile is the nearest-rank p-quantile of xs.
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[max(int(math.Ceil(p*float64(len(s))))-1, 0)]
}

// directTrinotest is trino-go-client to a trinotest coordinator on
// loopback configured as moat renders Trino: HTTPS only from a keystore of
// a CA like moat's, passwords from a bcrypt file, internal HTTPS.
func directTrinotest(b *testing.B) *sql.DB {
	ca, _, err := pki.New("bench CA", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Leaf{Name: "trino-coordinator", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	keystore, caFile := filepath.Join(dir, "keystore.pem"), filepath.Join(dir, "ca.pem")
	for path, data := range map[string][]byte{keystore: bytes.Join([][]byte{key, cert, ca.CertPEM}, nil), caFile: ca.CertPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	const password = "bench-password"
	pw, err := trino.PasswordFile([]trino.User{{Name: "analyst", Password: password}}, trino.DefaultBcryptCost)
	if err != nil {
		b.Fatal(err)
	}
	srv := trinotest.NewServer(trinotest.Options{Coordinator: true, Environment: "moat", SharedSecret: "bench-shared-secret",
		HTTPDisabled: true, KeystorePath: keystore, TruststorePath: caFile,
		InternalHTTPS: true, InternalKeystorePath: keystore, InternalTruststorePath: caFile,
		PasswordFile: pw, DenyInsecureOverHTTP: true})
	b.Cleanup(srv.Close)
	cs := ConnectSettings{URL: srv.HTTPSURL, CAFile: caFile, User: "analyst"}
	db := workstationDB(b, cs, password)
	return db
}
