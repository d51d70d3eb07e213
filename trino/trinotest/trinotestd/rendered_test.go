package main

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"moat/internal/testenv"
	"moat/pki"
	moattrino "moat/trino"
)

// renderedCluster is a cluster as moat plans it, on loopback addresses
// (127.0.0.1 for the coordinator, 127.0.0.2… for the workers) and one port.
func renderedCluster(t *testing.T, workers int) moattrino.Cluster {
	t.Helper()
	c := moattrino.Cluster{Environment: "moat", Version: 483, HTTPSPort: testenv.FreePort(t),
		Coordinator: moattrino.Node{ID: "trino-coordinator", IP: netip.MustParseAddr("127.0.0.1")},
		Catalogs:    []moattrino.Catalog{{Name: "tpch", Connector: "tpch"}},
		System:      moattrino.SystemUsers{Management: "moat", Orchestrator: "orchestrator"},
		GracePeriod: 50 * time.Millisecond}
	for i := 1; i <= workers; i++ {
		c.Workers = append(c.Workers, moattrino.Node{ID: fmt.Sprintf("trino-worker-%d", i), IP: netip.MustParseAddr(fmt.Sprintf("127.0.0.%d", 1+i))})
	}
	c.Memory = moattrino.PlanMemory(moattrino.MemoryInput{Workers: workers, CoordinatorHeap: moattrino.GiB, WorkerHeap: moattrino.GiB})
	return c
}

// writeRendered writes what moat gives node n: RenderNode's files, the
// password file, the node's keystore issued by ca and the CA certificate
// trust, with /etc/trino moved to a temporary directory.
func writeRendered(t *testing.T, c moattrino.Cluster, n moattrino.Node, ca *pki.CA, trust []byte, passwords []byte) string {
	t.Helper()
	dir := t.TempDir()
	files, err := moattrino.RenderNode(c, n)
	if err != nil {
		t.Fatal(err)
	}
	dns, ips := moattrino.NodeCertNames(c, n)
	cert, key, err := ca.Issue(pki.Leaf{Name: n.ID, DNSNames: dns, IPs: ips, Server: true, Client: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rel := func(p string) string { return strings.TrimPrefix(p, moattrino.ConfigDir+"/") }
	files[rel(moattrino.PasswordFilePath)] = passwords
	files[rel(moattrino.KeystorePath)] = moattrino.KeystorePEM(cert, key, ca.CertPEM)
	files[rel(moattrino.TruststorePath)] = trust
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		body = []byte(strings.ReplaceAll(string(body), moattrino.ConfigDir, dir))
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startRendered runs trinotestd on a rendered configuration directory.
func startRendered(t *testing.T, bin, dir, secret string) *node {
	t.Helper()
	n := &node{logs: &testenv.SyncBuffer{}, exited: make(chan error, 1), configDir: dir}
	cmd := exec.Command(bin, "--config-dir", dir, "--starting-for", "100ms")
	cmd.Env = append(os.Environ(), moattrino.SharedSecretEnv+"="+secret)
	cmd.Stderr = n.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-n.exited
	})
	return n
}

// TestBinaryClusterAsRendered runs trinotestd on exactly what RenderNode
// writes, with certificates from a CA, and attacks it as a client would:
// only the CA file to connect, no plaintext port, no forged header, and a
// node with a certificate from another CA kept out.
func TestBinaryClusterAsRendered(t *testing.T) {
	bin := buildBinary(t)
	const secret = "fake-shared-secret-7f3a"
	c := renderedCluster(t, 2)
	ca, _, err := pki.New("moat test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := pki.New("another CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := moattrino.PasswordFile([]moattrino.User{{Name: "moat", Password: "moat-pw"}}, moattrino.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	coord := startRendered(t, bin, writeRendered(t, c, c.Coordinator, ca, ca.CertPEM, passwords), secret)
	w1 := startRendered(t, bin, writeRendered(t, c, c.Workers[0], ca, ca.CertPEM, passwords), secret)
	// trino-worker-2's certificate comes from another CA.
	foreign := startRendered(t, bin, writeRendered(t, c, c.Workers[1], other, ca.CertPEM, passwords), secret)

	port := fmt.Sprint(c.HTTPSPort)
	base := "https://127.0.0.1:" + port
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
	defer client.CloseIdleConnections()

	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "coordinator health-check passes", func() error {
		out, err := exec.Command(bin, "health-check", "--config-dir", coord.configDir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s\n%s", err, out, coord.logs.String())
		}
		return nil
	})
	conn, err := trinoclient.NewConnector(&trinoclient.Config{ServerURI: "https://moat:moat-pw@127.0.0.1:" + port, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	active := func() error {
		var n int64
		err := db.QueryRow(moattrino.ActiveWorkersSQL).Scan(&n)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d active workers, want 1", n)
		}
		return err
	}
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, "trino-worker-1 active over TLS verified by the truststore", active)
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "the coordinator refuses the foreign certificate", func() error {
		if err := active(); err != nil { // the coordinator checks the announced nodes when asked for them
			return err
		}
		if !strings.Contains(coord.logs.String(), "certificate signed by unknown authority") {
			return fmt.Errorf("coordinator logs:\n%s\nforeign logs:\n%s", coord.logs.String(), foreign.logs.String())
		}
		return nil
	})
	if err := active(); err != nil {
		t.Errorf("with the foreign node announcing: %v", err)
	}

	// No plaintext port: trinotestd opened only its HTTPS listener, and
	// plain HTTP to the HTTPS port gets no Trino answer.
	if want := "msg=serving http=" + base + " https=" + base; !strings.Contains(coord.logs.String(), want) {
		t.Errorf("the coordinator opened a plaintext port; logs lack %q:\n%s", want, coord.logs.String())
	}
	if resp, err := http.Get("http://127.0.0.1:" + port + "/v1/info"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "nodeVersion") {
			t.Errorf("plain HTTP to the HTTPS port: %d %s", resp.StatusCode, body)
		}
	}
	// A forged X-Forwarded-Proto is refused (no http-server.process-forwarded).
	for _, path := range []string{"/v1/info", "/v1/statement", "/v1/info/state"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader("SELECT 1"))
		req.SetBasicAuth("moat", "moat-pw")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotAcceptable || !strings.Contains(string(body), "X-Forwarded-Proto") {
			t.Errorf("forged X-Forwarded-Proto on %s: %d %s, want 406", path, resp.StatusCode, body)
		}
	}
	// A client without the CA is refused at the handshake.
	if _, err := http.Get(base + "/v1/info"); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("client without moat's CA: %v", err)
	}

	// Graceful shutdown of trino-worker-1 on its only port, as moat does it.
	w1URL := fmt.Sprintf("https://%s:%d", c.Workers[0].IP, c.HTTPSPort)
	wclient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer wclient.CloseIdleConnections()
	if err := moattrino.Shutdown(t.Context(), wclient, w1URL, "moat", "moat-pw"); err != nil {
		t.Fatalf("shutdown over TLS: %v\n%s", err, w1.logs.String())
	}
	select {
	case err := <-w1.exited:
		w1.exited <- err
		if err != nil {
			t.Fatalf("worker exit after graceful shutdown: %v\n%s", err, w1.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running after graceful shutdown\n%s", w1.logs.String())
	}
	if strings.Contains(coord.logs.String(), secret) || strings.Contains(w1.logs.String(), secret) {
		t.Error("logs show the shared secret")
	}
}
