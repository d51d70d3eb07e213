package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	moatembed "moat/embed"
	"moat/internal/testenv"
	"moat/pki"
	"moat/trino"
	"moat/trino/trinotest"
)

// The sample notebook's code, run by the real Jupyter image's python3
// (requests, verification on) against the Trino protocol server configured
// as moat configures the coordinator: HTTPS only, with a certificate from
// moat's CA, passwords only over that TLS. It authenticates and pages
// through all 25 nations, following nextUri (which must stay https).
func TestSampleNotebookQueriesTrino(t *testing.T) {
	testenv.RequireImage(t, testenv.NotebookImage)
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := pki.New("moat test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Leaf{Name: "trino-coordinator", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	ks, caFile := filepath.Join(dir, "keystore.pem"), filepath.Join(dir, "ca.pem")
	os.WriteFile(ks, trino.KeystorePEM(cert, key, ca.CertPEM), 0o600)
	os.WriteFile(caFile, ca.CertPEM, 0o644)
	pw, err := trino.PasswordFile([]trino.User{{Name: "analyst", Password: "fake-analyst-password"}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	srv := trinotest.NewServer(trinotest.Options{Coordinator: true, PasswordFile: pw, Environment: "moat", NodeID: "trino-coordinator",
		SharedSecret: "fake-shared-secret-for-the-notebook-test", HTTPDisabled: true, KeystorePath: ks, TruststorePath: caFile,
		InternalHTTPS: true, InternalKeystorePath: ks, InternalTruststorePath: caFile, DenyInsecureOverHTTP: true, PageSize: 10})
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("trinotest URL %s: want HTTPS only", srv.URL)
	}
	var nb struct {
		Cells []struct {
			Type   string   `json:"cell_type"`
			Source []string `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(moatembed.SampleNotebook, &nb); err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, c := range nb.Cells {
		if c.Type == "code" {
			code.WriteString(strings.Join(c.Source, "") + "\n")
		}
	}
	// The notebook's environment as moat gives it (TRINO_URL, the CA), in
	// the real image, on the host's network to reach the test server.
	cmd := exec.Command("docker", "run", "--rm", "--network", "host", "-v", caFile+":/etc/moat/ca.pem:ro",
		"-e", "TRINO_URL="+srv.URL, "-e", "TRINO_USER=analyst", "-e", "TRINO_PASSWORD",
		"-e", "TRINO_CA_FILE=/etc/moat/ca.pem", "-e", "REQUESTS_CA_BUNDLE=/etc/moat/ca.pem",
		testenv.NotebookImage, "python3", "-c", code.String())
	cmd.Env = append(os.Environ(), "TRINO_PASSWORD=fake-analyst-password") // by environment, not argv
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "25 rows") || !strings.Contains(string(out), "ALGERIA") {
		t.Fatalf("the notebook's code: %v\n%s", err, out)
	}
	q, _ := srv.WaitQuery(t.Context(), func(q trinotest.RecordedQuery) bool { return strings.Contains(q.SQL, "FROM nation") })
	if q.Principal != "analyst" || q.User != "analyst" || q.Source != "moat-notebook" {
		t.Errorf("the server saw %+v", q)
	}
	// Without moat's CA the same code is refused at the handshake: the
	// sample never turns verification off.
	cmd = exec.Command("docker", "run", "--rm", "--network", "host", "-e", "TRINO_URL="+srv.URL, "-e", "TRINO_USER=analyst",
		"-e", "TRINO_PASSWORD=x", testenv.NotebookImage, "python3", "-c", code.String())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CERTIFICATE_VERIFY_FAILED") {
		t.Errorf("without the CA: %v\n%s", err, out)
	}
}
