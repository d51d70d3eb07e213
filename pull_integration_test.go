package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"moat/internal/testenv"
)

// These tests pull from a real registry (bin/registry, `make registry`) on
// 127.0.0.1, which the Docker Engine reaches without any daemon setting.

// pullImage builds an image of its own (moat-test/workload:dev plus a layer
// of random bytes, so that a pull downloads something the engine does not
// already hold), pushes it to reg as NAME, and removes it locally: the next
// up must pull it. It returns the reference in reg.
func pullImage(t *testing.T, reg *testenv.Registry, name string) string {
	t.Helper()
	testenv.RequireImage(t, testenv.WorkloadImage)
	dir := t.TempDir()
	blob := make([]byte, 3<<20)
	rand.Read(blob)
	if err := os.WriteFile(filepath.Join(dir, "blob"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	df := "FROM " + testenv.WorkloadImage + "\nCOPY blob /blob\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/" + name
	dockerCLI(t, "build", "-q", "-t", ref, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	dockerCLI(t, "push", ref)
	dockerCLI(t, "rmi", ref)
	return ref
}

// imageStack is a one-service stack running image, with its own project
// and data dir, taken down when t ends.
func imageStack(t *testing.T, image string) *testStack {
	t.Helper()
	dir := t.TempDir()
	s := &testStack{t: t, project: fmt.Sprintf("mp%d", mrand.IntN(1e8)), dataDir: filepath.Join(dir, "data")}
	s.config = filepath.Join(dir, "moat.toml")
	cfg := fmt.Sprintf(`[appliance]
project = %q
data_dir = %q
pull = "missing"
start_timeout = "60s"
stop_grace = "2s"
[dashboard]
enabled = false
[mesh]
enabled = false
[trino]
enabled = false
[notebook]
enabled = false
[[service]]
name = "w"
image = %q
command = ["-name", "w"]
health = ["/workload", "probe", "http://127.0.0.1:8080/health"]
health_interval = "500ms"
`, s.project, s.dataDir, image)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	return s
}

func imagePresent(ref string) bool {
	return exec.Command("docker", "image", "inspect", ref).Run() == nil
}

// pulledLine is the summary a pull prints on a non-terminal: layers and bytes.
func pulledLine(ref string) *regexp.Regexp {
	return regexp.MustCompile(`pulled ` + regexp.QuoteMeta(ref) + `: 2/2 layers, [0-9.]+ MB \(([0-9]+) bytes\) downloaded, 1 already present`)
}

func TestPullPolicies(t *testing.T) {
	testenv.RequireDocker(t)
	reg := testenv.StartRegistry(t)
	ref := pullImage(t, reg, "moat/workload:1")
	s := imageStack(t, ref)

	// never, image absent: pre-flight refuses, naming the image and the fix.
	out, err := s.moat("up", "-d", "--pull=never")
	if err == nil {
		t.Fatalf("up --pull=never with %s absent succeeded:\n%s", ref, out)
	}
	if !strings.Contains(out, ref) || !strings.Contains(out, "moat images load") || !strings.Contains(out, "--pull=missing") {
		t.Errorf("up --pull=never: the error names neither the image nor the fix:\n%s", out)
	}
	if strings.Contains(out, "pulling "+ref) || imagePresent(ref) {
		t.Fatalf("up --pull=never pulled:\n%s", out)
	}

	// missing, absent: pulled once, with a summary in layers and bytes.
	out = s.mustMoat("up", "-d", "--pull=missing")
	t.Logf("up --pull=missing:\n%s", out)
	m := pulledLine(ref).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("up --pull=missing: no progress summary matching %s:\n%s", pulledLine(ref), out)
	}
	if n := len(m[1]); n < 7 { // the random layer is 3 MiB, compressed or not
		t.Errorf("downloaded %s bytes, want about 3 MiB:\n%s", m[1], out)
	}
	if c := strings.Count(out, "pulling "+ref); c != 1 {
		t.Errorf("pulled %d times, want once:\n%s", c, out)
	}
	if !imagePresent(ref) {
		t.Fatalf("after up --pull=missing, %s is not in the engine", ref)
	}
	s.mustMoat("down")

	// missing, present: nothing pulled.
	out = s.mustMoat("up", "-d", "--pull=missing")
	if strings.Contains(out, "pulling "+ref) {
		t.Errorf("up --pull=missing pulled an image already present:\n%s", out)
	}
	s.mustMoat("down")

	// always, present: pulled again (nothing left to download).
	out = s.mustMoat("up", "-d", "--pull=always")
	if !strings.Contains(out, "pulling "+ref) || !strings.Contains(out, "pulled "+ref) {
		t.Errorf("up --pull=always did not pull %s:\n%s", ref, out)
	}
	s.mustMoat("down")

	// moat pull: the same path, image absent again.
	dockerCLI(t, "rmi", ref)
	out = s.mustMoat("pull")
	if !pulledLine(ref).MatchString(out) {
		t.Errorf("moat pull: no progress summary matching %s:\n%s", pulledLine(ref), out)
	}
	if !imagePresent(ref) {
		t.Errorf("after moat pull, %s is not in the engine", ref)
	}
}

// errorLine is the line of out that carries moat's error, which must be one
// line.
func errorLine(t *testing.T, out string) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "cannot pull image") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one line saying `cannot pull image`, got %d:\n%s", len(lines), out)
	}
	return lines[0]
}

func TestPullErrors(t *testing.T) {
	testenv.RequireDocker(t)
	reg := testenv.StartRegistry(t)
	pullImage(t, reg, "moat/workload:1")
	closed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cases := []struct {
		name, image string
		want        []string
	}{
		{"missing tag", reg.Host + "/moat/workload:nosuch",
			[]string{"no such image or tag", "fix the image's tag in moat.toml", "push it to " + reg.Host}},
		{"unreachable registry", closed + "/moat/workload:1",
			[]string{"the registry " + closed + " cannot be reached", "start it or check the network", "moat images load FILE", "--pull=never"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := imageStack(t, c.image)
			for _, args := range [][]string{{"pull"}, {"up", "-d", "--pull=missing"}} {
				out, err := s.moat(args...)
				if err == nil {
					t.Fatalf("moat %s succeeded:\n%s", strings.Join(args, " "), out)
				}
				line := errorLine(t, out)
				t.Logf("moat %s: %s", strings.Join(args, " "), line)
				if !strings.Contains(line, c.image) {
					t.Errorf("moat %s: the error does not name %s: %s", strings.Join(args, " "), c.image, line)
				}
				for _, w := range c.want {
					if !strings.Contains(line, w) {
						t.Errorf("moat %s: the error lacks %q: %s", strings.Join(args, " "), w, line)
					}
				}
			}
		})
	}
}

// cutProxy forwards TCP connections to a registry; while cutting, it closes
// a connection once it has carried more than after bytes back to the client
// (in the middle of a blob: manifests are far smaller), says so on cut, and
// holds every later connection until cutting ends, so that the engine
// cannot finish the blob by reconnecting with a Range request.
type cutProxy struct {
	addr    string
	after   int64
	cutting atomic.Bool
	cut     chan struct{} // closed at the cut
	once    sync.Once
	resume  chan struct{} // closed by stopCutting: held connections go on
	stop    sync.Once
}

// stopCutting lets every connection through again, held ones included.
func (p *cutProxy) stopCutting() {
	p.stop.Do(func() { p.cutting.Store(false); close(p.resume) })
}

func startCutProxy(t *testing.T, target string, after int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: l.Addr().String(), after: after, cut: make(chan struct{}), resume: make(chan struct{})}
	p.cutting.Store(true)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); p.stopCutting(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c, target) }()
		}
	}()
	return p
}

func (p *cutProxy) serve(client net.Conn, target string) {
	defer client.Close()
	if p.wasCut() {
		<-p.resume // held until the test stops cutting (or ends)
	}
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { io.Copy(server, client); server.Close() }()
	var n int64
	buf := make([]byte, 32<<10)
	for {
		k, err := server.Read(buf)
		if k > 0 {
			if p.cutting.Load() && n+int64(k) > p.after {
				client.Write(buf[:p.after-n])
				p.once.Do(func() { close(p.cut) })
				return // both ends close: the blob stops mid-way
			}
			n += int64(k)
			if _, err := client.Write(buf[:k]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) wasCut() bool {
	select {
	case <-p.cut:
		return true
	default:
		return false
	}
}

// An up interrupted in the middle of a pull (the connection cut mid-blob,
// then Ctrl-C) leaves the image absent; the next up pulls it and starts the
// stack.
func TestPullInterruptedThenResumed(t *testing.T) {
	testenv.RequireDocker(t)
	reg := testenv.StartRegistry(t)
	pullImage(t, reg, "moat/workload:1")
	proxy := startCutProxy(t, reg.Host, 1<<20)
	ref := proxy.addr + "/moat/workload:1"
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	s := imageStack(t, ref)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	up := exec.CommandContext(ctx, moatBin, "up", "--pull=missing", "--config", s.config)
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.cut:
	case <-time.After(time.Minute):
		up.Process.Kill()
		up.Wait()
		t.Fatalf("the pull never reached the cut:\n%s", out.String())
	}
	up.Process.Signal(os.Interrupt)
	if err := up.Wait(); err == nil {
		t.Errorf("up interrupted during its pull exited 0:\n%s", out.String())
	}
	t.Logf("interrupted up:\n%s", out.String())
	if !strings.Contains(out.String(), "pull of image "+ref+" interrupted") || imagePresent(ref) {
		t.Fatalf("the interrupted up did not stop mid-pull (image present: %v):\n%s", imagePresent(ref), out.String())
	}

	proxy.stopCutting()
	got := s.mustMoat("up", "-d", "--pull=missing")
	t.Logf("next up:\n%s", got)
	if !pulledLine(ref).MatchString(got) || !strings.Contains(got, "all 1 services are up") {
		t.Errorf("the next up did not complete the pull and start the stack:\n%s", got)
	}
}
