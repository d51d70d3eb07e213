package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"moat/appliance/config"
	"moat/appliance/lock"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// preflightRuntime is the fake runtime with what Docker also answers:
// which container holds a host port, and which images are present.
type preflightRuntime struct {
	*supervisortest.Runtime
	holders  map[string]string // "ip:port" → container name
	images   map[string]bool
	imageErr map[string]error
	asked    []string // images asked about, in order
}

func (r *preflightRuntime) PortHolder(_ context.Context, ip string, port int) (string, bool, error) {
	name, ok := r.holders[net.JoinHostPort(ip, strconv.Itoa(port))]
	return name, ok, nil
}

func (r *preflightRuntime) ImagePresent(_ context.Context, ref string) (bool, error) {
	r.asked = append(r.asked, ref)
	if err := r.imageErr[ref]; err != nil {
		return false, err
	}
	return r.images[ref], nil
}

func (r *preflightRuntime) Pull(context.Context, string, func(supervisor.PullProgress)) error {
	return errors.New("preflight never pulls")
}

var (
	_ PortHolders             = (*preflightRuntime)(nil)
	_ supervisor.ImageManager = (*preflightRuntime)(nil)
)

func checkNamed(t *testing.T, checks []Check, prefix string) Check {
	t.Helper()
	for _, c := range checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, checks)
	return Check{}
}

// freeLoopbackPort is a port nothing listened on a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Host ports: free, held by one of this project's containers (adopted),
// held by another container (named, with the fix), or held by a process
// of this host (named from /proc).
func TestPreflightPorts(t *testing.T) {
	ctx := context.Background()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+t.TempDir()+"\"\n[dashboard]\nenabled = false\n[mesh]\nworkstation_port = 0\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	free, ours, theirs := freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)
	rt := &preflightRuntime{Runtime: supervisortest.New(supervisortest.Options{}), holders: map[string]string{}}
	web := supervisor.Spec{Name: "web", Image: "nginx:1.27"}
	rt.Seed(c.Appliance.Project, web, supervisor.Instance{State: supervisor.StateRunning})
	inv, _ := rt.List(ctx, c.Appliance.Project)
	rt.holders["127.0.0.1:"+strconv.Itoa(ours)] = inv.Instances[0].Name
	rt.holders["127.0.0.1:"+strconv.Itoa(theirs)] = "someone-elses-db"
	topo := supervisor.Topology{Services: []supervisor.Spec{{Name: "web", Ports: []supervisor.Port{
		{HostPort: free, ContainerPort: 80}, // no HostIP: loopback
		{HostIP: "127.0.0.1", HostPort: ours, ContainerPort: 81},
		{HostIP: "127.0.0.1", HostPort: theirs, ContainerPort: 82},
		{HostIP: "127.0.0.1", HostPort: busyPort, ContainerPort: 83},
	}}}}
	checks := portChecks(ctx, c, topo, rt)
	if len(checks) != 4 {
		t.Fatalf("%d port checks, want 4: %+v", len(checks), checks)
	}
	if ck := checks[0]; !ck.OK || ck.Name != "port 127.0.0.1:"+strconv.Itoa(free)+" (web)" || ck.Detail != "free" {
		t.Errorf("a free port: %+v", ck)
	}
	if ck := checks[1]; !ck.OK || ck.Detail != "held by this project's "+inv.Instances[0].Name+" (adopted)" {
		t.Errorf("our own container's port: %+v", ck)
	}
	if ck := checks[2]; ck.OK || ck.Detail != "taken by container someone-elses-db" || !strings.Contains(ck.Fix, "docker stop someone-elses-db") {
		t.Errorf("another container's port: %+v", ck)
	}
	ck := checks[3]
	if ck.OK || !strings.Contains(ck.Detail, fmt.Sprintf("(pid %d)", os.Getpid())) || ck.Fix == "" {
		t.Errorf("a port this test process listens on: %+v", ck)
	}
	if err := Failed(checks); err == nil || strings.Count(err.Error(), "\n    fix: ") != 2 || strings.Contains(err.Error(), "(adopted)") {
		t.Errorf("Failed(checks) = %v; want the two failures, each with its fix", err)
	}
	if Failed(checks[:2]) != nil {
		t.Error("Failed of passing checks is not nil")
	}
}

// The dashboard's port is legitimately held by the moat that already
// supervises this data dir (moat doctor beside moat up).
func TestPreflightDashboardHeldBySupervisor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n[dashboard]\nlisten = \""+busy.Addr().String()+"\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	rt := &preflightRuntime{Runtime: supervisortest.New(supervisortest.Options{})}
	check := func() Check {
		return checkNamed(t, portChecks(ctx, c, supervisor.Topology{}, rt), "port "+busy.Addr().String())
	}
	if ck := check(); ck.OK {
		t.Errorf("nobody supervises, yet the taken dashboard port passes: %+v", ck)
	}
	// This process holds the lock, as if it were another moat: the pid
	// in the file is not this one.
	lock, err := lock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if ck := check(); ck.OK {
		t.Errorf("the lock held by this very process counts as another supervisor: %+v", ck)
	}
	// The lock file is the one file AcquireLock made in the data dir.
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the data dir holds %v, %v; want the lock file alone", entries, err)
	}
	if err := os.WriteFile(filepath.Join(dir, entries[0].Name()), []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ck := check(); !ck.OK || ck.Detail != "held by the moat that supervises this stack" {
		t.Errorf("held by the supervising moat: %+v", ck)
	}
}

// Preflight stops at an engine that does not answer, and otherwise checks
// engine, ports, subnets, disk, memory and images, in that order.
func TestPreflightRunsEveryCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+filepath.Join(dir, "not", "yet")+"\"\nmin_free_disk = \"1KB\"\n[dashboard]\nenabled = false\n[mesh]\nworkstation_port = 0\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	rt := &preflightRuntime{Runtime: supervisortest.New(supervisortest.Options{}), images: map[string]bool{"web:1": true}}
	topo := supervisor.Topology{
		Networks: []supervisor.Network{{Name: "x", Subnet: "198.51.100.0/24"}},
		Services: []supervisor.Spec{{Name: "web", Image: "web:1", Ports: []supervisor.Port{{HostPort: freeLoopbackPort(t), ContainerPort: 80}}}},
	}
	checks := Preflight(ctx, c, topo, rt, "missing")
	var kinds []string
	for _, ck := range checks {
		kinds = append(kinds, strings.Fields(ck.Name)[0])
		if !ck.OK {
			t.Errorf("failed: %+v", ck)
		}
	}
	if !slices.Equal(kinds, []string{"fake", "port", "subnet", "disk", "host", "image"}) {
		t.Errorf("checks %v", kinds)
	}
	// The data dir does not exist yet: its nearest existing parent is
	// measured, and the check names the data dir.
	if ck := checkNamed(t, checks, "disk space in "); ck.Name != "disk space in "+c.DataDir() || !strings.HasSuffix(ck.Detail, " free") {
		t.Errorf("disk check %+v", ck)
	}
	c.Appliance.MinFreeDisk = config.MaxBytes
	if ck := diskCheck(c); ck.OK || !strings.Contains(ck.Detail, "need 1024TB") || !strings.Contains(ck.Fix, "appliance.min_free_disk") {
		t.Errorf("a disk without 1024TB free: %+v", ck)
	}
	if ck := memoryCheck(c, 0); !ck.OK || ck.Detail != "not known here: not checked" {
		t.Errorf("unknown host memory: %+v", ck)
	}
	if ck := memoryCheck(c, 64<<30); !ck.OK || ck.Detail != "65536MiB: enough for the planned cluster" {
		t.Errorf("64GiB: %+v", ck)
	}
	if m := HostMemory(); m <= 0 || m%1024 != 0 {
		t.Errorf("HostMemory = %d, want MemTotal in bytes", m)
	}

	rt.Fail(supervisortest.OpPing, "", errors.New("connection refused"))
	checks = Preflight(ctx, c, topo, rt, "missing")
	if len(checks) != 1 || checks[0].OK || checks[0].Name != "fake engine" || !strings.Contains(checks[0].Detail, "connection refused") {
		t.Errorf("an engine that does not answer: %+v", checks)
	}
}

// Images under each pull policy: what pre-flight says of each, and what
// NeedsPull lists; every image is asked about once.
func TestPullPolicies(t *testing.T) {
	ctx := context.Background()
	topo := supervisor.Topology{Services: []supervisor.Spec{
		{Name: "a", Image: "present:1"}, {Name: "b", Image: "absent:1"}, {Name: "c", Image: "present:1"},
		{Name: "d", Image: "broken:1"},
	}}
	newRT := func() *preflightRuntime {
		return &preflightRuntime{images: map[string]bool{"present:1": true},
			imageErr: map[string]error{"broken:1": errors.New("daemon says no")}}
	}
	for _, tc := range []struct {
		pull   string
		detail map[string]string // image → detail; failed ones start with "!"
		pulls  []string
	}{
		{"missing", map[string]string{"present:1": "present", "absent:1": "will be pulled", "broken:1": "!daemon says no"}, []string{"absent:1"}},
		{"always", map[string]string{"present:1": "will be pulled", "absent:1": "will be pulled", "broken:1": "!daemon says no"}, []string{"present:1", "absent:1"}},
		{"never", map[string]string{"present:1": "present", "absent:1": "!not present and --pull=never", "broken:1": "!daemon says no"}, nil},
	} {
		t.Run(tc.pull, func(t *testing.T) {
			rt := newRT()
			checks := imageChecks(ctx, topo, rt, tc.pull)
			if len(checks) != 3 || !slices.Equal(rt.asked, []string{"present:1", "absent:1", "broken:1"}) {
				t.Fatalf("checks %+v after asking %v; want one per image", checks, rt.asked)
			}
			for _, ck := range checks {
				want := tc.detail[strings.TrimPrefix(ck.Name, "image ")]
				failed := strings.HasPrefix(want, "!")
				if ck.OK == failed || ck.Detail != strings.TrimPrefix(want, "!") {
					t.Errorf("%s: ok %v, %q; want %q", ck.Name, ck.OK, ck.Detail, want)
				}
				if ck.Detail == "not present and --pull=never" && !strings.Contains(ck.Fix, "moat images load") {
					t.Errorf("no way to load the image offered: %+v", ck)
				}
			}
			rt = newRT()
			if got := NeedsPull(ctx, topo, rt, tc.pull); !slices.Equal(got, tc.pulls) {
				t.Errorf("NeedsPull = %v, want %v", got, tc.pulls)
			}
			if tc.pull == "never" && len(rt.asked) != 0 {
				t.Errorf("--pull=never asked the engine about %v", rt.asked)
			}
		})
	}
}

// The host ports pre-flight checks are those of the plan, plus the
// dashboard's own listener when it is on (the host endpoint,
// mesh.workstation_port, is off here).
func TestWantedPortsOfThePlan(t *testing.T) {
	c, _, topo := provisionedPlan(t, "[mesh]\nworkstation_port = 0\n[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"0.0.0.0:8081:80\"]\n")
	var got []string
	for _, p := range wantedPorts(c, topo) {
		got = append(got, p.owner+"@"+net.JoinHostPort(p.ip, strconv.Itoa(p.port)))
	}
	want := []string{
		"consul@127.0.0.1:8501", "trino-coordinator@127.0.0.1:21000",
		"notebook@127.0.0.1:8888", "notebook@127.0.0.1:21001", "web@0.0.0.0:8081", "dashboard@127.77.0.1:7700",
	}
	if !slices.Equal(got, want) {
		t.Errorf("wanted ports %v\nwant %v", got, want)
	}
}

// The host endpoint (mesh.workstation_port, on by default) is moat's own
// listener, like the dashboard's: pre-flight checks its port before
// anything is created, names the process holding it and the field to
// change, and lets it be held by the moat that supervises this data dir.
func TestPreflightChecksWorkstationPort(t *testing.T) {
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n[mesh]\nworkstation_port = "+strconv.Itoa(port)+"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := OpenSecretsReadOnly(c.DataDir())
	topo, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := &preflightRuntime{Runtime: supervisortest.New(supervisortest.Options{})}
	name := "port " + busy.Addr().String() + " (host endpoint)"
	ck := checkNamed(t, portChecks(ctx, c, topo, rt), "port "+busy.Addr().String())
	if ck.OK || ck.Name != name || !strings.Contains(ck.Detail, fmt.Sprintf("(pid %d)", os.Getpid())) ||
		!strings.Contains(ck.Fix, "mesh.workstation_port") {
		t.Errorf("the taken workstation port: %+v; want %q failed, naming this process and mesh.workstation_port", ck, name)
	}
	if err := Failed(Preflight(ctx, c, topo, rt, "missing")); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("Preflight passes with the host endpoint's port taken: %v", err)
	}

	// Held by the moat that supervises this stack (another pid in the lock).
	l, err := lock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the data dir holds %v, %v; want the lock file alone", entries, err)
	}
	if err := os.WriteFile(filepath.Join(dir, entries[0].Name()), []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ck := checkNamed(t, portChecks(ctx, c, topo, rt), name); !ck.OK || ck.Detail != "held by the moat that supervises this stack" {
		t.Errorf("held by the supervising moat: %+v", ck)
	}
}

// The host endpoint's port is wanted only when the endpoint is on: it needs
// the mesh and Trino, and 0 turns it off.
func TestWantedPortsHostEndpoint(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  bool
	}{
		{"", true}, // on by default
		{"[mesh]\nworkstation_port = 0\n", false},
		{"[trino]\nenabled = false\n[notebook]\nenabled = false\n", false},
	} {
		c, _, topo := provisionedPlan(t, tc.extra)
		var got []string
		for _, p := range wantedPorts(c, topo) {
			if p.owner == "host endpoint" {
				got = append(got, net.JoinHostPort(p.ip, strconv.Itoa(p.port)))
			}
		}
		switch {
		case tc.want && !slices.Equal(got, []string{"127.0.0.1:" + strconv.Itoa(c.Mesh.WorkstationPort)}):
			t.Errorf("%q: host endpoint ports %v, want 127.0.0.1:%d", tc.extra, got, c.Mesh.WorkstationPort)
		case !tc.want && len(got) != 0:
			t.Errorf("%q: the endpoint is off, yet its port is wanted: %v", tc.extra, got)
		}
	}
}
