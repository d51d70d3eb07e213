package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Images built by `make test-images` (FROM scratch, no registry needed).
const (
	WorkloadImage  = "moat-test/workload:dev"
	ConsulImage    = "moat-test/consul:dev"
	TrinotestImage = "moat-test/trinotest:dev"
	// NotebookImage is a real Jupyter server from Debian packages.
	NotebookImage = "moat-test/notebook:dev"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing stops t because a dependency is absent: a skip on a developer's
// machine, a failure in CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("required for this test in CI: %s", msg)
	}
	t.Skipf("skipped (set CI=true to make this a failure): %s", msg)
}

// RepoRoot is the directory holding moat's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module moat\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: moat's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// RequireDocker returns when the Docker Engine answers.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		Missing(t, "the Docker Engine is not reachable (docker version: %v: %s)", err, strings.TrimSpace(string(out)))
	}
}

// RequireImage returns when the Docker Engine has image ref; the test images
// come from `make test-images`.
func RequireImage(t testing.TB, ref string) {
	t.Helper()
	RequireDocker(t)
	if err := exec.Command("docker", "image", "inspect", ref).Run(); err != nil {
		Missing(t, "image %s is not built: run `make test-images`", ref)
	}
}

// ConsulBinary returns the path of the pinned Consul binary (bin/consul,
// built by `make consul`), and puts its directory first on PATH so that
// anything looking `consul` up finds the pinned one.
func ConsulBinary(t testing.TB) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "bin", "consul")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "the pinned Consul binary %s is missing: run `make consul`", p)
	}
	dir := filepath.Dir(p)
	if !strings.HasPrefix(os.Getenv("PATH"), dir+string(os.PathListSeparator)) {
		os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not handed out before.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may hand the same free port out again: a test that
		// asks twice (Consul's HTTP and DNS ports) must get two.
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// handedOut are the ports FreePort has returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Eventually polls cond every interval until it returns nil or timeout
// passes, then fails t with cond's last error. It is for conditions that have
// no event to wait on (a container's state seen through an API); it never
// stands in for a fixed sleep.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, last)
		}
		time.Sleep(interval)
	}
}
