package mesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"moat/internal/testenv"
	"moat/pki"
)

// TestSealedServer runs the real Consul with SealOptions and attacks it as
// an application would: everything plaintext is on unix sockets only, and
// HTTPS serves nobody without moat's client certificate, not even a leaf
// that Consul has cached (Consul 1.20.2 hands a cached leaf to a caller
// without a token).
func TestSealedServer(t *testing.T) {
	bin := testenv.ConsulBinary(t)
	dir, err := os.MkdirTemp("", "seal") // unix socket paths must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	now := time.Now()
	ca, _, err := pki.New("moat test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, _ := ca.Issue(pki.Leaf{Name: "consul", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}, now)
	cliCert, cliKey, _ := ca.Issue(pki.Leaf{Name: "moat", Client: true}, now)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seal := &SealOptions{SocketDir: dir, HTTPSPort: testenv.FreePort(t),
		CAFile: write("ca.pem", ca.CertPEM), CertFile: write("srv.pem", srvCert), KeyFile: write("srv-key.pem", srvKey)}
	mgmt := "6b1b8a4e-0f3a-4f63-9a44-0c1e6d1c8b7e"
	opts := ServerOptions{NodeName: "sealed", DataDir: filepath.Join(dir, "data"), ClientAddr: "127.0.0.1",
		HTTPPort: testenv.FreePort(t), GRPCPort: testenv.FreePort(t),
		SerfLANPort: testenv.FreePort(t), ServerPort: testenv.FreePort(t),
		ManagementToken: mgmt, Seal: seal, LogLevel: "warn"}
	cfg, err := ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartProcess(t, "consul", exec.Command(bin, "agent", "-config-file="+write("server.json", cfg)))

	sock, err := api.NewClient(&api.Config{Address: seal.HTTPSocket(), Token: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, "the sealed server's CA over its unix socket", func() error {
		return caRootsReady(ctx, sock)
	})
	// A leaf fetched once with the token is now in Consul's cache.
	if _, _, err := sock.Agent().ConnectCALeaf("orchestrator", nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(strings.TrimPrefix(seal.HTTPSocket(), "unix://")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("HTTP socket: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	https := "127.0.0.1:" + itoa(seal.HTTPSPort)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	leafURL := "https://" + https + "/v1/agent/connect/ca/leaf/orchestrator"

	t.Run("no plaintext TCP listener", func(t *testing.T) {
		for name, port := range map[string]int{"http": opts.HTTPPort, "grpc": opts.GRPCPort} {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second); err == nil {
				c.Close()
				t.Errorf("Consul's %s port %d accepts TCP connections", name, port)
			}
		}
	})
	t.Run("anonymous HTTPS gets nothing, not even a cached leaf", func(t *testing.T) {
		anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		if body, err := get(anon, leafURL); err == nil {
			t.Errorf("a client without a certificate got an answer: %.200s", body)
		}
		foreign, _, _ := pki.New("intruder CA", now)
		fc, fk, _ := foreign.Issue(pki.Leaf{Name: "moat", Client: true}, now)
		pair, _ := tls.X509KeyPair(fc, fk)
		forged := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}}
		if body, err := get(forged, leafURL); err == nil {
			t.Errorf("a certificate from another CA got an answer: %.200s", body)
		}
	})
	t.Run("moat's client certificate is served", func(t *testing.T) {
		c, err := api.NewClient(&api.Config{Address: https, Scheme: "https", Token: mgmt,
			TLSConfig: api.TLSConfig{CAPem: ca.CertPEM, CertPEM: cliCert, KeyPEM: cliKey}})
		if err != nil {
			t.Fatal(err)
		}
		leader, err := c.Status().Leader()
		if err != nil || leader == "" {
			t.Fatalf("leader over HTTPS with moat's certificate: %q, %v", leader, err)
		}
	})
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s %s", resp.Status, b), nil
}
