package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"moat/internal/testenv"
	"moat/supervisor"
)

func TestHealthyEventAndInspect(t *testing.T) {
	p := newProject(t)
	evs := p.events()
	s := workload("web", "-ready-after", "300ms")
	s.Health = healthProbe()
	s.ExtraLabels = map[string]string{"dev.moat.test": "yes"}
	id := p.run(s, "")

	start := evs.waitFor(id, supervisor.EventStart, "")
	if start.Service != "web" {
		t.Errorf("start event service = %q, want web", start.Service)
	}
	evs.waitFor(id, supervisor.EventHealth, supervisor.HealthHealthy)

	in, err := p.Inspect(p.ctx(time.Minute), id)
	if err != nil {
		t.Fatal(err)
	}
	want := supervisor.Instance{Name: p.name + "-web", Service: "web", ConfigHash: s.ConfigHash(), State: supervisor.StateRunning, Health: supervisor.HealthHealthy, LastProbe: "ok"}
	got := supervisor.Instance{Name: in.Name, Service: in.Service, ConfigHash: in.ConfigHash, State: in.State, Health: in.Health, LastProbe: in.LastProbe}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Inspect = %+v, want %+v", got, want)
	}
	if in.StartedAt.IsZero() || !in.FinishedAt.IsZero() {
		t.Errorf("StartedAt %v FinishedAt %v: want a start time and no finish time", in.StartedAt, in.FinishedAt)
	}
}

func TestCreateRefusesStaleContainer(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(time.Minute)
	s := workload("stale")
	if _, err := p.Create(ctx, p.name, s, ""); err != nil {
		t.Fatal(err)
	}
	_, err := p.Create(ctx, p.name, s, "")
	if err == nil || !strings.Contains(err.Error(), "container "+p.name+"-stale already exists") {
		t.Fatalf("second Create: %v, want an error naming the existing container", err)
	}
	inv, err := p.List(ctx, p.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Instances) != 1 {
		t.Errorf("List after a refused Create has %d instances, want the 1 left", len(inv.Instances))
	}
}

func TestFilesDelivered(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(time.Minute)
	s := workload("files")
	s.Files = []supervisor.File{
		{Path: "/etc/moat/conf/app.properties", Mode: 0o600, UID: 1000, GID: 1001, Content: []byte("shared-secret=fake-test-value\n")},
		{Path: "/etc/moat/readme.txt", Content: []byte("hello\n")},
	}
	id, err := p.Create(ctx, p.name, s, "")
	if err != nil {
		t.Fatal(err)
	}

	hdr, content := p.readFile(ctx, id, "/etc/moat/conf/app.properties")
	if hdr.Mode&0o777 != 0o600 || hdr.Uid != 1000 || hdr.Gid != 1001 || content != "shared-secret=fake-test-value\n" {
		t.Errorf("app.properties: mode %o uid %d gid %d content %q; want 600 1000 1001 and the content", hdr.Mode&0o777, hdr.Uid, hdr.Gid, content)
	}
	hdr, content = p.readFile(ctx, id, "/etc/moat/readme.txt")
	if hdr.Mode&0o777 != 0o644 || content != "hello\n" {
		t.Errorf("readme.txt: mode %o content %q; want the default 644 and the content", hdr.Mode&0o777, content)
	}
	if hdr, _ := p.readFile(ctx, id, "/etc/moat/conf"); hdr.Uid != 1000 || hdr.Gid != 1001 {
		t.Errorf("/etc/moat/conf owner %d:%d, want that of its first file, 1000:1001", hdr.Uid, hdr.Gid)
	}
	dir := p.stat(ctx, id, "/etc/moat/conf")
	if !dir.Mode.IsDir() || dir.Mode.Perm() != 0o755 {
		t.Errorf("/etc/moat/conf mode %v, want a 0755 directory", dir.Mode)
	}
	// The engine makes /etc (0755) in every container for hosts and
	// resolv.conf; delivering files must not reset an existing directory.
	if etc := p.stat(ctx, id, "/etc"); etc.Mode != os.ModeDir|0o755 {
		t.Errorf("/etc mode %v, want it left drwxr-xr-x", etc.Mode)
	}
}

func (p testProject) stat(ctx context.Context, id, path string) (st struct{ Mode os.FileMode }) {
	p.t.Helper()
	s, err := p.cli.ContainerStatPath(ctx, id, path)
	if err != nil {
		p.t.Fatalf("stat %s: %v", path, err)
	}
	st.Mode = s.Mode
	return st
}

// readFile reads one file back out of the container, with its tar header.
func (p testProject) readFile(ctx context.Context, id, path string) (*tar.Header, string) {
	p.t.Helper()
	rc, _, err := p.cli.CopyFromContainer(ctx, id, path)
	if err != nil {
		p.t.Fatalf("copy %s out: %v", path, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		p.t.Fatalf("copy %s out: %v", path, err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		p.t.Fatalf("copy %s out: %v", path, err)
	}
	return hdr, string(b)
}

func TestInternalNetworkFixedIPAndSharedNamespace(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(2 * time.Minute)
	third := rand.IntN(200) + 20
	n := supervisor.Network{Name: "private", Internal: true, Subnet: fmt.Sprintf("10.213.%d.0/24", third), Gateway: fmt.Sprintf("10.213.%d.1", third)}
	created, err := p.EnsureNetwork(ctx, p.name, n)
	if err != nil || !created {
		t.Fatalf("EnsureNetwork = %v, %v; want created", created, err)
	}
	if created, err := p.EnsureNetwork(ctx, p.name, n); err != nil || created {
		t.Fatalf("EnsureNetwork again = %v, %v; want it found, not created", created, err)
	}
	if _, err := p.EnsureVolume(ctx, p.name, supervisor.Volume{Name: "data"}); err != nil {
		t.Fatal(err)
	}

	front := supervisor.Network{Name: "front", Subnet: fmt.Sprintf("10.214.%d.0/24", third), Gateway: fmt.Sprintf("10.214.%d.1", third)}
	if _, err := p.EnsureNetwork(ctx, p.name, front); err != nil {
		t.Fatal(err)
	}

	ip, frontIP := fmt.Sprintf("10.213.%d.10", third), fmt.Sprintf("10.214.%d.10", third)
	app := workload("app", "-tcp-echo", ":9000")
	app.Networks = []supervisor.Attachment{{Network: "private", IP: ip}, {Network: "front", IP: frontIP, Aliases: []string{"app.front"}}}
	app.Mounts = []supervisor.Mount{{Volume: "data", Target: "/data"}}
	appID := p.run(app, "")
	sidecar := workload("app-sidecar", "-listen", ":8081")
	sidecar.ShareNetworkWith = "app"
	sidecarID := p.run(sidecar, appID)

	in, err := p.Inspect(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("map[front:%s private:%s]", frontIP, ip); fmt.Sprint(in.Addresses) != want {
		t.Errorf("app addresses %v, want %s", in.Addresses, want)
	}
	client := workload("client")
	client.Networks = []supervisor.Attachment{{Network: "front"}}
	clientID := p.run(client, "")

	p.dials(ctx, sidecarID, "127.0.0.1:9000") // the shared namespace
	p.dials(ctx, clientID, "app:9000")        // the service name is an alias
	p.dials(ctx, clientID, "app.front:9000")  // and so are the attachment's
	inv, err := p.List(ctx, p.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Instances) != 3 || fmt.Sprint(inv.Networks) != "[front private]" && fmt.Sprint(inv.Networks) != "[private front]" || fmt.Sprint(inv.Volumes) != "[data]" {
		t.Errorf("List = %d instances, networks %v, volumes %v; want 3, front and private, [data]", len(inv.Instances), inv.Networks, inv.Volumes)
	}
}

// dials checks, from inside container id, that addr answers the workload's
// TCP echo.
func (p testProject) dials(ctx context.Context, id, addr string) {
	p.t.Helper()
	testenv.Eventually(p.t, 30*time.Second, 100*time.Millisecond, "dial "+addr+" from "+short(id), func() error {
		code, out, err := p.Exec(ctx, id, []string{"/workload", "dial", addr})
		if err != nil {
			return err
		}
		if code != 0 || strings.TrimSpace(out) != "ok" {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
}

func TestCreateMapsSpec(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(time.Minute)
	s := workload("mapped", "-listen", ":8081")
	s.Env = map[string]string{"B": "2", "A": "1"}
	s.User = "1000:1000"
	s.WorkingDir = "/work"
	s.MemoryBytes = 64 << 20
	s.StopSignal = "SIGINT"
	s.Health = healthProbe()
	id, err := p.Create(ctx, p.name, s, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("entrypoint %v cmd %v user %s dir %s stop %s memory %d restart %q health %v/%v/%d labels %s,%s",
		c.Config.Entrypoint, c.Config.Cmd, c.Config.User, c.Config.WorkingDir, c.Config.StopSignal, c.HostConfig.Memory,
		c.HostConfig.RestartPolicy.Name, c.Config.Healthcheck.Test, c.Config.Healthcheck.Interval, c.Config.Healthcheck.Retries,
		c.Config.Labels[supervisor.LabelProject], c.Config.Labels[supervisor.LabelService])
	want := fmt.Sprintf("entrypoint [/workload] cmd [-listen :8081] user 1000:1000 dir /work stop SIGINT memory %d restart \"no\" health [CMD /workload probe http://127.0.0.1:8080/health]/200ms/3 labels %s,mapped",
		64<<20, p.name)
	if got != want {
		t.Errorf("container config:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(strings.Join(c.Config.Env, " "), "A=1 B=2") {
		t.Errorf("env %v, want A=1 B=2 in order", c.Config.Env)
	}
}

func TestExecReportsExitCode(t *testing.T) {
	p := newProject(t)
	id := p.run(workload("exec"), "")
	code, out, err := p.Exec(p.ctx(time.Minute), id, []string{"/workload", "dial", "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("dial to a closed port: exit %d, output %q; want 1 and the reason", code, out)
	}
	// A program the image does not have never ran: an error, not a result.
	if code, out, err := p.Exec(p.ctx(time.Minute), id, []string{"/no-such-program"}); err == nil {
		t.Errorf("exec of a missing program: exit %d, output %q, no error", code, out)
	}
}

func TestKillStopAndExitCodes(t *testing.T) {
	p := newProject(t)
	evs := p.events()
	ctx := p.ctx(2 * time.Minute)

	killed := p.run(workload("killed"), "")
	evs.waitFor(killed, supervisor.EventStart, "")
	if err := p.Kill(ctx, killed); err != nil {
		t.Fatal(err)
	}
	if ev := evs.waitFor(killed, supervisor.EventDie, ""); ev.ExitCode != 137 {
		t.Errorf("killed: die exit code %d, want 137", ev.ExitCode)
	}

	failing := p.run(workload("failing", "-exit-after", "0s", "-exit-code", "3"), "")
	if ev := evs.waitFor(failing, supervisor.EventDie, ""); ev.ExitCode != 3 || ev.Service != "failing" {
		t.Errorf("failing: die event %+v, want exit code 3 of service failing", ev)
	}
	if in, err := p.Inspect(ctx, failing); err != nil || in.State != supervisor.StateExited || in.ExitCode != 3 || in.FinishedAt.IsZero() {
		t.Errorf("failing: Inspect = %+v, %v; want exited with 3", in, err)
	}

	stubborn := workload("stubborn", "-ignore-sigterm")
	stubborn.Health = healthProbe()
	stubbornID := p.run(stubborn, "")
	polite := workload("polite")
	polite.Health = healthProbe()
	politeID := p.run(polite, "")
	evs.waitFor(stubbornID, supervisor.EventHealth, supervisor.HealthHealthy)
	evs.waitFor(politeID, supervisor.EventHealth, supervisor.HealthHealthy)
	// Healthy means serving, and the workload serves only once it handles
	// SIGTERM. The polite one's grace is long: it exits when signalled, so
	// no scheduling delay can turn its exit into a kill.
	for _, tc := range []struct {
		id    string
		grace time.Duration
		want  int
	}{{stubbornID, time.Second, 137}, {politeID, time.Minute, 0}} {
		if err := p.Stop(ctx, tc.id, tc.grace); err != nil {
			t.Fatal(err)
		}
		if in, err := p.Inspect(ctx, tc.id); err != nil || in.State != supervisor.StateExited || in.ExitCode != tc.want {
			t.Errorf("%s after Stop: %+v, %v; want exited with %d", in.Name, in, err, tc.want)
		}
	}

	if err := p.Remove(ctx, killed); err != nil {
		t.Fatal(err)
	}
	evs.waitFor(killed, supervisor.EventRemove, "")
	if _, err := p.Inspect(ctx, killed); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
}

func TestLogsTail(t *testing.T) {
	p := newProject(t)
	evs := p.events()
	id := p.run(workload("talker", "-name", "talker", "-exit-after", "0s"), "")
	evs.waitFor(id, supervisor.EventDie, "")
	ctx := p.ctx(time.Minute)

	var all, last strings.Builder
	if err := p.Logs(ctx, id, supervisor.LogOptions{}, &all); err != nil {
		t.Fatal(err)
	}
	if err := p.Logs(ctx, id, supervisor.LogOptions{Tail: 1}, &last); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(all.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "talker: serving HTTP on") || !strings.Contains(lines[1], "talker: exiting with 0 as asked") {
		t.Errorf("all logs = %q, want the serving and exiting lines", all.String())
	}
	if got := strings.TrimSpace(last.String()); got != lines[len(lines)-1] {
		t.Errorf("tail 1 = %q, want %q", got, lines[len(lines)-1])
	}
}

func TestLogsFollowEndsWithContainer(t *testing.T) {
	p := newProject(t)
	id := p.run(workload("follower", "-name", "follower", "-exit-after", "300ms"), "")
	var out strings.Builder
	if err := p.Logs(p.ctx(time.Minute), id, supervisor.LogOptions{Follow: true}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "follower: exiting with 0 as asked") {
		t.Errorf("followed logs = %q, want them up to the exit line", out.String())
	}
}

func TestPortHolder(t *testing.T) {
	p := newProject(t)
	port := testenv.FreePort(t)
	s := workload("published")
	s.Ports = []supervisor.Port{{HostPort: port, ContainerPort: 8080}}
	id := p.run(s, "")
	ctx := p.ctx(time.Minute)

	name, held, err := p.PortHolder(ctx, "127.0.0.1", port)
	if err != nil || !held || name != p.name+"-published" {
		t.Errorf("PortHolder(127.0.0.1, %d) = %q, %v, %v; want %s-published", port, name, held, err, p.name)
	}
	if _, held, err := p.PortHolder(ctx, "127.0.0.1", testenv.FreePort(t)); err != nil || held {
		t.Errorf("PortHolder of a free port = %v, %v; want not held", held, err)
	}
	in, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("[127.0.0.1:%d->8080]", port); fmt.Sprint(in.Ports) != want || in.Ports[0].Protocol != "tcp" {
		t.Errorf("Inspect ports %v, want %s", in.Ports, want)
	}
}

func TestEnsureRefusesForeignObjects(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(time.Minute)
	foreign := objectName(p.name, "foreign")
	if _, err := p.cli.NetworkCreate(ctx, foreign, network.CreateOptions{Driver: "bridge"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cli.NetworkRemove(context.Background(), foreign) })

	_, err := p.EnsureNetwork(ctx, p.name, supervisor.Network{Name: "foreign"})
	if err == nil || !strings.Contains(err.Error(), "a network named "+foreign+" exists but was not created by moat") {
		t.Errorf("EnsureNetwork over an unlabelled network: %v, want a refusal naming it", err)
	}
	if _, err := p.EnsureNetwork(ctx, p.name, supervisor.Network{Name: "mine"}); err != nil {
		t.Fatal(err)
	}
	_, err = p.EnsureNetwork(ctx, p.name, supervisor.Network{Name: "mine", Internal: true})
	if err == nil || !strings.Contains(err.Error(), "exists with other settings") {
		t.Errorf("EnsureNetwork with changed settings: %v, want a refusal", err)
	}
}

func TestImages(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(2 * time.Minute)
	if ok, err := p.ImagePresent(ctx, testenv.WorkloadImage); err != nil || !ok {
		t.Errorf("ImagePresent(%s) = %v, %v; want true", testenv.WorkloadImage, ok, err)
	}
	const missing = "moat-test/does-not-exist:never"
	if ok, err := p.ImagePresent(ctx, missing); err != nil || ok {
		t.Errorf("ImagePresent(%s) = %v, %v; want false", missing, ok, err)
	}
	// A registry on a closed loopback port: the pull fails at once, and no
	// request leaves the machine.
	const unreachable = "127.0.0.1:9/moat-test/does-not-exist:never"
	err := p.Pull(ctx, unreachable, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot pull image "+unreachable) || !strings.Contains(err.Error(), "--pull=never") {
		t.Errorf("Pull(%s) = %v; want an error naming the image and --pull=never", unreachable, err)
	}
	t.Logf("Pull error: %v", err)
}

func TestPingMissingSocket(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/moat/docker.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx)
	if err == nil {
		t.Fatal("New with a missing socket succeeded")
	}
	want := "Docker is not running or not reachable at unix:///nonexistent/moat/docker.sock. " +
		"Start Docker Desktop, or on Linux run `sudo systemctl start docker`; if the engine runs elsewhere, set DOCKER_HOST to its address"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// TestPingPermissionMessage checks the wording for a socket this user may
// not open (the tests run as root, which the kernel never refuses, so the
// error is the one the client wraps from connect(2)).
func TestPingPermissionMessage(t *testing.T) {
	cause := &url.Error{Op: "Get", URL: "http://docker/_ping", Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}}
	err := unreachable("unix:///var/run/docker.sock", cause)
	want := "Docker at unix:///var/run/docker.sock refused this user: permission denied on /var/run/docker.sock. " +
		"Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log out and in again), or point DOCKER_HOST at an engine you may use"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}
