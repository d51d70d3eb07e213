package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"
	"golang.org/x/crypto/bcrypt"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"node.properties":                   "node.environment=moat\nnode.id=${ENV:NODE_ID}\nnode.bind-ip=10.5.0.3\n",
		"config.properties":                 "coordinator=false\nhttp-server.http.port=8081\ndiscovery.uri=http://10.5.0.2:8080\nshutdown.grace-period=30s\nhttp-server.process-forwarded=true\nhttp-server.https.ssl-context.refresh-time=10s\n",
		"access-control.properties":         "access-control.name=file\nsecurity.config-file=" + filepath.Join(dir, "rules.json") + "\n",
		"rules.json":                        `{"impersonation":[{"original_user":"orchestrator","new_user":".*"}]}`,
		"jvm.config":                        "-Xmx1G\n",
		"password-authenticator.properties": "ignored=because authentication is off\n",
	})
	c, err := loadConfig(dir, lookup(map[string]string{"NODE_ID": "worker-1"}))
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.Coordinator || o.NodeID != "worker-1" || o.Environment != "moat" || c.port != 8081 || c.bindIP != "10.5.0.3" ||
		o.InternalURI != "http://10.5.0.3:8081" || o.DiscoveryURI != "http://10.5.0.2:8080" || o.GracePeriod != 30*time.Second || o.SSLContextRefresh != 10*time.Second ||
		!o.ProcessForwarded || len(o.Impersonation) != 1 || o.SystemInformation == nil || len(o.SystemInformation) != 0 {
		t.Errorf("loaded %+v", c)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, node, config string
		want               string
	}{
		{"removed in 477", "node.environment=moat\n", "discovery-server.enabled=true\n", "Configuration property 'discovery-server.enabled' was not used"},
		{"defunct", "node.environment=moat\n", "http-server.authentication.allow-forwarded-https=true\n", "Defunct property 'http-server.authentication.allow-forwarded-https'"},
		{"no environment", "node.id=a\n", "", "node.environment: must not be null"},
		{"bad environment", "node.environment=Moat-1\n", "", `node.environment: must match "[a-z0-9][_a-z0-9]*"`},
		{"unset variable", "node.environment=moat\n", "internal-communication.shared-secret=${ENV:TRINO_SECRET}\n", "Environment variable is not set: TRINO_SECRET"},
		{"bad refresh time", "node.environment=moat\n", "http-server.https.ssl-context.refresh-time=soon\n", "http-server.https.ssl-context.refresh-time"},
		{"password file missing", "node.environment=moat\n", "http-server.authentication.type=PASSWORD\n", "password-authenticator.properties"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"node.properties": tt.node, "config.properties": tt.config})
		_, err := loadConfig(dir, lookup(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// buildBinary builds trinotestd as the test image does: static, no cgo.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trinotestd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinaryServesAndShutsDownGracefully(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	writeFiles(t, dir, map[string]string{
		"node.properties":   "node.environment=moat\nnode.id=coordinator\nnode.bind-ip=127.0.0.1\n",
		"config.properties": fmt.Sprintf("coordinator=true\nhttp-server.http.port=%d\ndiscovery.uri=http://127.0.0.1:%d\nshutdown.grace-period=${ENV:GRACE}\n", port, port),
	})
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config-dir", dir, "--starting-for", "200ms")
	cmd.Env = append(os.Environ(), "GRACE=50ms")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	healthy := func() error {
		hc := exec.Command(bin, "health-check", "--config-dir", dir)
		out, err := hc.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "health-check passes", healthy)

	conn, err := trino.NewConnector(&trino.Config{ServerURI: fmt.Sprintf("http://admin@127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
		t.Fatalf("count nations: %d, %v", n, err)
	}

	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://127.0.0.1:%d/v1/info/state", port), strings.NewReader(`"SHUTTING_DOWN"`))
	req.Header.Set("X-Trino-User", "admin")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/info/state: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Fatalf("exit after graceful shutdown: %v\n%s", err, logs.String())
		}
	case <-ctx.Done():
		t.Fatalf("still running after graceful shutdown\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "SERVER STARTED") || !strings.Contains(logs.String(), "Shutdown requested") {
		t.Errorf("logs lack start or shutdown lines:\n%s", logs.String())
	}
}

func TestBinaryRefusesRemovedProperty(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"node.properties":   "node.environment=moat\n",
		"config.properties": "coordinator=true\ndiscovery-server.enabled=true\n",
	})
	out, err := exec.Command(bin, "--config-dir", dir).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "discovery-server.enabled' was not used") {
		t.Errorf("exit %v, output %s; want exit 1 naming discovery-server.enabled", err, out)
	}
}

// automaticConfig is config.properties for Trino's automatic internal HTTPS
// (no keystore), on local ports: what moat rendered before it had a CA of
// its own, kept to test that mode.
func automaticConfig(coordinator bool, httpPort, httpsPort, coordinatorHTTPS int) string {
	c := fmt.Sprintf("coordinator=%v\nhttp-server.http.port=%d\nhttp-server.https.enabled=true\nhttp-server.https.port=%d\n"+
		"discovery.uri=https://127.0.0.1:%d\ninternal-communication.shared-secret=${ENV:TRINO_SHARED_SECRET}\n"+
		"internal-communication.https.required=true\nhttp-server.authentication.type=PASSWORD\nshutdown.grace-period=${ENV:GRACE}\n",
		coordinator, httpPort, httpsPort, coordinatorHTTPS)
	if coordinator {
		c += "node-scheduler.include-coordinator=false\nhttp-server.process-forwarded=true\nhttp-server.authentication.allow-insecure-over-http=false\n"
	}
	return c
}

func TestLoadAutomaticConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"node.properties":                   "node.environment=moat\nnode.id=trino-worker-1\nnode.bind-ip=10.5.0.3\nnode.internal-address=10.5.0.3\n",
		"config.properties":                 automaticConfig(false, 8080, 8443, 8443),
		"password-authenticator.properties": "password-authenticator.name=file\nfile.password-file=" + filepath.Join(dir, "password.db") + "\n",
		"password.db":                       "moat:" + bcryptHash(t, "moat-pw") + "\n",
	})
	c, err := loadConfig(dir, lookup(map[string]string{"TRINO_SHARED_SECRET": "fake-shared-secret-7f3a", "GRACE": "30s"}))
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if !o.InternalHTTPS || o.SharedSecret != "fake-shared-secret-7f3a" || c.httpsPort != 8443 || c.port != 8080 ||
		o.InternalURI != "https://10.5.0.3:8443" || o.DiscoveryURI != "https://127.0.0.1:8443" || o.DenyInsecureOverHTTP || o.ProcessForwarded {
		t.Errorf("loaded %+v", c)
	}
}

func TestLoadInternalHTTPSErrors(t *testing.T) {
	tests := []struct{ config, want string }{
		{"internal-communication.https.required=true\nhttp-server.https.enabled=true\n", "Internal shared secret must be set when internal HTTPS is enabled"},
		{"http-server.https.enabled=true\ninternal-communication.shared-secret=x\n", "Keystore path or automatic HTTPS shared secret must be provided"},
		{"internal-communication.https.required=true\ninternal-communication.shared-secret=x\n", "HTTPS must be enabled when HTTPS is required for internal communications. Set http-server.https.enabled=true"},
		{"internal-communication.https.required=true\nhttp-server.https.enabled=true\ninternal-communication.https.truststore.path=/x\n", "Internal shared secret is required when HTTPS is enabled for internal communications"},
		{"http-server.https.enabled=true\ninternal-communication.https.required=true\ninternal-communication.shared-secret=x\ninternal-communication.https.truststore.path=/x\n", "Keystore path or automatic HTTPS shared secret must be provided"},
		{"http-server.https.keystore.path=/etc/trino/k.pem\n", "Configuration property 'http-server.https.keystore.path' was not used"},
		{"http-server.https.enabled=true\nhttp-server.https.keystore.path=/k.pem\nhttp-server.https.keystore.key=pw\n", "http-server.https.keystore.key: trinotestd reads only PEM files with an unencrypted key"},
		{"http-server.http.enabled=false\n", "the server would open no port"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"node.properties": "node.environment=moat\n", "config.properties": tt.config})
		_, err := loadConfig(dir, lookup(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error containing %q", tt.config, err, tt.want)
		}
	}
}

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 8)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// node is a trinotestd process.
type node struct {
	logs      *testenv.SyncBuffer
	exited    chan error
	http      string // http://127.0.0.1:port
	https     string
	configDir string
}

// startNode runs bin on a configuration moat would render, on 127.0.0.1.
func startNode(t *testing.T, bin, id string, coordinator bool, coordinatorHTTPS int, secret string) *node {
	t.Helper()
	dir := t.TempDir()
	httpPort, httpsPort := testenv.FreePort(t), testenv.FreePort(t)
	if coordinator {
		httpsPort = coordinatorHTTPS
	}
	writeFiles(t, dir, map[string]string{
		"node.properties":                   "node.environment=moat\nnode.id=" + id + "\nnode.bind-ip=127.0.0.1\nnode.internal-address=127.0.0.1\n",
		"config.properties":                 automaticConfig(coordinator, httpPort, httpsPort, coordinatorHTTPS),
		"password-authenticator.properties": "password-authenticator.name=file\nfile.password-file=" + filepath.Join(dir, "password.db") + "\n",
		"password.db":                       "moat:" + bcryptHash(t, "moat-pw") + "\n",
		"access-control.properties":         "access-control.name=file\nsecurity.config-file=" + filepath.Join(dir, "rules.json") + "\n",
		"rules.json":                        `{"system_information": [{"user": "moat", "allow": ["read", "write"]}, {"allow": []}]}`,
	})
	n := &node{logs: &testenv.SyncBuffer{}, exited: make(chan error, 1), configDir: dir,
		http: fmt.Sprintf("http://127.0.0.1:%d", httpPort), https: fmt.Sprintf("https://127.0.0.1:%d", httpsPort)}
	cmd := exec.Command(bin, "--config-dir", dir, "--starting-for", "100ms")
	cmd.Env = append(os.Environ(), "TRINO_SHARED_SECRET="+secret, "GRACE=50ms")
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

// TestBinaryClusterOverInternalHTTPS runs a coordinator and two workers as
// moat configures them, plus a worker with a wrong secret, and talks to them
// as moat does: /v1/info on the HTTP port, SQL with a password over HTTPS,
// graceful shutdown over HTTPS as the management user.
func TestBinaryClusterOverInternalHTTPS(t *testing.T) {
	bin := buildBinary(t)
	const secret = "fake-shared-secret-7f3a"
	cport := testenv.FreePort(t)
	c := startNode(t, bin, "trino-coordinator", true, cport, secret)
	w1 := startNode(t, bin, "trino-worker-1", false, cport, secret)
	startNode(t, bin, "trino-worker-2", false, cport, secret)
	wrong := startNode(t, bin, "trino-worker-wrong", false, cport, "not-the-secret")

	// A client trusting the cluster: the CA derives from secret and
	// environment alone, so a Server made with them trusts the binary's.
	trusting, err := trinotest.NewUnstartedServer(trinotest.Options{Environment: "moat", SharedSecret: secret, InternalHTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	client := trusting.Client()
	defer client.CloseIdleConnections()

	healthy := func(n *node) func() error {
		return func() error {
			out, err := exec.Command(bin, "health-check", "--url", n.http+"/v1/info").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
	}
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "coordinator health-check --url passes", healthy(c))
	// Here node.bind-ip is loopback, so the image's localhost URL answers too.
	if out, err := exec.Command(bin, "health-check", "--config-dir", c.configDir).CombinedOutput(); err != nil {
		t.Errorf("health-check from config.properties: %v %s", err, out)
	}

	conn, err := trino.NewConnector(&trino.Config{ServerURI: strings.Replace(c.https, "https://", "https://moat:moat-pw@", 1), HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	active := func() error {
		var n int64
		err := db.QueryRow("SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'").Scan(&n)
		if err == nil && n != 2 {
			err = fmt.Errorf("%d active workers, want 2", n)
		}
		return err
	}
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, "two active workers over internal HTTPS", active)
	if out, err := exec.Command(bin, "health-check", "--url", w1.https+"/v1/info").CombinedOutput(); err != nil {
		t.Errorf("health-check --url over the automatic HTTPS certificate: %v %s", err, out)
	}
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "wrong-secret worker logs the TLS failure", func() error {
		if !strings.Contains(wrong.logs.String(), "certificate signed by unknown authority") {
			return fmt.Errorf("logs:\n%s", wrong.logs.String())
		}
		return nil
	})
	if err := active(); err != nil {
		t.Errorf("after the wrong-secret worker announced: %v", err)
	}

	req, _ := http.NewRequest(http.MethodPut, w1.https+"/v1/info/state", strings.NewReader(`"SHUTTING_DOWN"`))
	req.SetBasicAuth("moat", "moat-pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/info/state over HTTPS: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case err := <-w1.exited:
		w1.exited <- err
		if err != nil {
			t.Fatalf("worker exit after graceful shutdown: %v\n%s", err, w1.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running after graceful shutdown\n%s", w1.logs.String())
	}
	if strings.Contains(c.logs.String(), secret) || strings.Contains(w1.logs.String(), secret) {
		t.Error("logs show the shared secret")
	}
}
