package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Registry is a real image registry (the CNCF distribution registry, built
// by `make registry` into bin/registry) serving on 127.0.0.1 for one test.
// Docker pushes to and pulls from a 127.0.0.1 registry over plain HTTP
// without any daemon setting.
type Registry struct {
	// Host is "127.0.0.1:PORT", the prefix of the registry's references.
	Host string
}

// StartRegistry starts bin/registry on a free loopback port with its
// storage in t.TempDir(), returns once /v2/ answers, and stops it when t
// ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "the registry binary %s is missing: run `make registry`", bin)
	}
	dir := t.TempDir()
	host := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), host)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the registry: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the registry exited at start (%v):\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Registry{Host: host}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry on %s did not answer /v2/ within 30s (%v):\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Push tags the local image src as r.Host/name and pushes it, returning the
// pushed reference; the local tag is removed when t ends.
func (r *Registry) Push(t testing.TB, src, name string) string {
	t.Helper()
	RequireImage(t, src)
	ref := r.Host + "/" + name
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "tag", src, ref).CombinedOutput(); err != nil {
		t.Fatalf("docker tag %s %s: %v\n%s", src, ref, err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	if out, err := exec.CommandContext(ctx, "docker", "push", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker push %s: %v\n%s", ref, err, strings.TrimSpace(string(out)))
	}
	return ref
}
