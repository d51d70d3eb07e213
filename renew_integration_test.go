package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/internal/testenv"
	"moat/pki"
	"moat/state"
)

// renewalLifetime is the certificates' lifetime in TestCertificateRenewal:
// renewed after two thirds (2 min), while the stack runs; the old ones
// are still valid for the last minute, in which the test checks its claims.
const renewalLifetime = 3 * time.Minute

// With a short lifetime, the supervising moat reissues every certificate of
// its CA before it expires and puts it in use without a restart: Consul
// and Trino serve the new certificates (new serials, verified with the CA
// alone), a query in flight across the renewal returns all its rows, the
// mesh still carries queries afterwards, and no container was replaced.
func TestCertificateRenewal(t *testing.T) {
	t.Parallel()
	s := newMeshStack(t, false)
	// This stack's moats alone (and `moat up -d`'s child) get the short
	// lifetime: the other stacks' tests run beside this one.
	s.env = append(os.Environ(), appliance.CertLifetimeEnv+"="+renewalLifetime.String())
	out := s.mustMoat("up", "-d")
	if !strings.Contains(out, "all 6 services are up") {
		t.Fatalf("up:\n%s", out)
	}
	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cs, roots := s.hostEndpoint()
	consulAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Mesh.HTTPSPort))
	// Trino's own certificate, end to end through the host endpoint and the
	// mesh (the coordinator's address is not reachable from the host).
	trinoAddr := strings.TrimPrefix(cs.URL, "https://")
	consul := func() (*x509.Certificate, error) { return servedCert(consulAddr, consulClientTLS(t, cfg)) }
	coordinator := func() (*x509.Certificate, error) { return servedCert(trinoAddr, &tls.Config{RootCAs: roots}) }
	worker := func() (*x509.Certificate, error) {
		return containerCert(s.project+"-trino-worker-1", "/etc/trino/tls/keystore.pem")
	}
	// The host endpoint listens once `up -d` has returned: wait for it.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, "the host endpoint listens", func() error {
		_, err := coordinator()
		return err
	})
	first := map[string]*x509.Certificate{}
	for name, get := range map[string]func() (*x509.Certificate, error){"consul": consul, "trino-coordinator": coordinator, "trino-worker-1": worker} {
		c, err := get()
		if err != nil {
			t.Fatalf("%s's certificate before renewal: %v", name, err)
		}
		if life := c.NotAfter.Sub(c.NotBefore) - time.Hour; life != renewalLifetime { // NotBefore is an hour back (clock skew)
			t.Fatalf("%s's certificate lives %s, want %s (%s)", name, life, renewalLifetime, appliance.CertLifetimeEnv)
		}
		first[name] = c
	}
	ids := containerIDs(t, s.project)

	// A query in flight: the first page read before the renewal, the rest
	// after it, over the connection made before.
	db := workstationDB(t, cs, strings.TrimSpace(s.mustMoat("secrets", "show", "user_analyst")))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT custkey FROM tpch.tiny.customer")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	if !rows.Next() {
		t.Fatalf("no first row: %v", rows.Err())
	}
	n++

	for name, get := range map[string]func() (*x509.Certificate, error){"consul": consul, "trino-coordinator": coordinator, "trino-worker-1": worker} {
		testenv.Eventually(t, renewalLifetime, 500*time.Millisecond, name+" serves a renewed certificate", func() error {
			c, err := get()
			if err != nil {
				return err
			}
			if c.SerialNumber.Cmp(first[name].SerialNumber) == 0 {
				return fmt.Errorf("still serial %x, valid until %s", c.SerialNumber, c.NotAfter.Format(time.TimeOnly))
			}
			if !c.NotAfter.After(first[name].NotAfter) {
				return fmt.Errorf("serial %x is no newer: valid until %s", c.SerialNumber, c.NotAfter)
			}
			return nil
		})
	}
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 1500 {
		t.Errorf("the query in flight across the renewal: %d rows, %v; want all 1500", n, err)
	}

	// The mesh still carries queries: moat's own client (new connections,
	// new certificates verified with the CA) and the host endpoint.
	if out := s.mustMoat("query", "--user", "analyst", "SELECT count(*) FROM tpch.tiny.nation"); !strings.HasSuffix(strings.TrimSpace(out), "25") {
		t.Errorf("moat query after the renewal: %q", out)
	}
	var nations int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM tpch.tiny.nation").Scan(&nations); err != nil || nations != 25 {
		t.Errorf("through the host endpoint after the renewal: %d, %v", nations, err)
	}
	if got := containerIDs(t, s.project); got != ids {
		t.Errorf("containers were replaced by the renewal:\nbefore %s\nafter  %s", ids, got)
	}
	st, err := state.OpenReadOnly(filepath.Join(s.dataDir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(ctx, state.EventFilter{Kind: "moat.cert-renewed"})
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	if all := strings.Join(msgs, "\n"); err != nil || !strings.Contains(all, "consul") || !strings.Contains(all, "trino-coordinator") || !strings.Contains(all, "trino-worker-1") {
		t.Errorf("renewal events %+v, %v: want them to name consul, trino-coordinator and trino-worker-1", evs, err)
	}
	scanForSecrets(t, s, "after the renewal")
}

// servedCert is the certificate a TLS server at addr presents, verified
// with conf.
func servedCert(addr string, conf *tls.Config) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// consulClientTLS is moat's TLS for Consul, read from the secrets file as
// it is now (the client certificate is renewed too).
func consulClientTLS(t testing.TB, cfg *config.Config) *tls.Config {
	sec, err := appliance.OpenSecretsReadOnly(cfg.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := control.NewControl(cfg, sec, nil).ConsulTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// containerCert is the first certificate of a PEM file in a container.
func containerCert(container, path string) (*x509.Certificate, error) {
	out, err := exec.Command("docker", "cp", container+":"+path, "-").Output()
	if err != nil {
		return nil, fmt.Errorf("docker cp %s:%s: %w", container, path, err)
	}
	tr := tar.NewReader(bytes.NewReader(out))
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, err
	}
	return pki.FirstCert(data)
}

// containerIDs lists the project's container IDs, sorted.
func containerIDs(t testing.TB, project string) string {
	return strings.Join(strings.Fields(dockerCLI(t, "ps", "-aq", "--no-trunc", "--filter", "label=dev.moat.project="+project)), " ")
}

// workstationDB is trino-go-client through the host endpoint, with the CA
// alone.
func workstationDB(t testing.TB, cs ConnectSettings, password string) *sql.DB {
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(cs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	name := "moat-test-" + strings.NewReplacer(":", "-", "/", "").Replace(cs.URL) // one per endpoint
	if err := trinoclient.RegisterCustomClient(name, client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trinoclient.DeregisterCustomClient(name) })
	u, _ := url.Parse(cs.URL)
	u.User = url.UserPassword(cs.User, password)
	db, err := sql.Open("trino", u.String()+"?custom_client="+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
