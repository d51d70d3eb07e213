package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fixed addresses come from the configured subnets (masked first, so a
// subnet written with host bits set gives the same addresses), and the
// catalogue hands each built-in service its own.
func TestCatalogueAddresses(t *testing.T) {
	c, err := Parse([]byte("[mesh]\nsubnet = \"10.1.2.3/16\"\n[trino]\nsubnet = \"10.9.0.0/24\"\nworkers = 3\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	a := PlanAddresses(c)
	for name, got := range map[string]netip.Addr{"consul": a.Consul, "coordinator mesh": a.CoordinatorMesh, "notebook": a.Notebook, "coordinator": a.Coordinator} {
		want := map[string]string{"consul": "10.1.0.2", "coordinator mesh": "10.1.0.3", "notebook": "10.1.0.4", "coordinator": "10.9.0.10"}[name]
		if got.String() != want {
			t.Errorf("%s at %s, want %s", name, got, want)
		}
	}
	var workers []string
	for _, w := range a.Workers {
		workers = append(workers, w.String())
	}
	if !slices.Equal(workers, []string{"10.9.0.11", "10.9.0.12", "10.9.0.13"}) {
		t.Errorf("workers at %v", workers)
	}
	cat := CatalogueOf(c)
	seen := map[netip.Addr]string{}
	for _, b := range cat.Services {
		if b.Role == RoleSidecar {
			if b.IP.IsValid() {
				t.Errorf("sidecar %s has an address of its own (%s): it lives in %s's namespace", b.Name, b.IP, b.App)
			}
			continue
		}
		if !b.IP.IsValid() {
			t.Errorf("%s has no fixed address", b.Name)
			continue
		}
		if other, dup := seen[b.IP]; dup {
			t.Errorf("%s and %s both at %s", b.Name, other, b.IP)
		}
		seen[b.IP] = b.Name
	}
	if w, ok := cat.Service("trino-worker-3"); !ok || w.IP.String() != "10.9.0.13" || w.Role != RoleWorker || w.Sidecar != "" {
		t.Errorf("worker 3: %+v %v", w, ok)
	}
	// Validation refuses more than 16 workers, but must be able to ask
	// for the addresses of the config it refuses.
	c.Trino.Workers = 1000
	if n := len(PlanAddresses(c).Workers); n != maxWorkers {
		t.Errorf("%d worker addresses for 1000 workers, want the %d validation allows", n, maxWorkers)
	}
}

// Every identity's doors: where its sidecar is published for moat, where
// the sidecar finds the application, and the localhost upstreams.
func TestCatalogueDoors(t *testing.T) {
	c, err := Parse([]byte("[mesh]\ncoordinator_port = 22000\nnotebook_sidecar_port = 22001\nworkstation_port = 9443\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	cat := CatalogueOf(c)
	a := PlanAddresses(c)
	coord, ok := cat.Identity(ServiceCoordinator)
	if !ok || coord.Native || coord.HostPort != 22000 || coord.AppAddress != a.Coordinator.String() || coord.AppPort != TrinoHTTPSPort ||
		coord.SidecarAddress != a.CoordinatorMesh.String() || !coord.OpaqueTLS || coord.RequestTimeout < time.Minute || len(coord.Upstreams) != 0 {
		t.Errorf("coordinator identity %+v", coord)
	}
	nb, ok := cat.Identity(ServiceNotebook)
	if !ok || nb.Native || nb.HostPort != 22001 || nb.AppAddress != "127.0.0.1" || nb.AppPort != 8888 || nb.SidecarAddress != a.Notebook.String() || nb.OpaqueTLS {
		t.Errorf("notebook identity %+v", nb)
	}
	upstream := func(id Identity) string {
		if len(id.Upstreams) != 1 {
			return strconv.Itoa(len(id.Upstreams)) + " upstreams"
		}
		return id.Upstreams[0].String()
	}
	for name, want := range map[string]string{
		ServiceNotebook:     "trino-coordinator@127.0.0.1:" + strconv.Itoa(NotebookUpstreamPort),
		OrchestratorUser:    "trino-coordinator@127.0.0.1:22000",
		WorkstationIdentity: "trino-coordinator@127.0.0.1:9443",
	} {
		id, ok := cat.Identity(name)
		if !ok || upstream(id) != want {
			t.Errorf("%s: %s, want %s", name, upstream(id), want)
		}
		if name != ServiceNotebook && (!id.Native || id.HostPort != 0) {
			t.Errorf("%s is moat's own identity: %+v", name, id)
		}
	}
	var sidecared []string
	for _, id := range cat.Sidecared() {
		sidecared = append(sidecared, id.Name)
	}
	if !slices.Equal(sidecared, []string{ServiceCoordinator, ServiceNotebook}) {
		t.Errorf("sidecared %v", sidecared)
	}
	for _, b := range cat.Services {
		app, isSidecar := cat.SidecarOf(b.Name)
		if isSidecar != (b.Role == RoleSidecar) || (isSidecar && app != b.App) {
			t.Errorf("SidecarOf(%s) = %q, %v for %+v", b.Name, app, isSidecar, b)
		}
		if b.Sidecar != "" {
			if sc, ok := cat.Service(b.Sidecar); !ok || sc.App != b.Name {
				t.Errorf("%s's sidecar %s is not catalogued as its sidecar: %+v", b.Name, b.Sidecar, sc)
			}
		}
	}
	for _, name := range []string{"nope", ""} {
		if _, ok := cat.Service(name); ok {
			t.Errorf("Service(%q) found", name)
		}
		if _, ok := cat.Identity(name); ok {
			t.Errorf("Identity(%q) found", name)
		}
		if _, ok := cat.SidecarOf(name); ok {
			t.Errorf("SidecarOf(%q) found", name)
		}
	}
}

// Without Trino there is nothing to reach: moat's identity has no
// upstream, there is no host endpoint, and nothing is sidecared.
func TestCatalogueWithoutTrino(t *testing.T) {
	c, err := Parse([]byte("[trino]\nenabled = false\n[notebook]\nenabled = false\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	cat := CatalogueOf(c)
	if !slices.Equal(cat.Names(), []string{ServiceConsul}) || !slices.Equal(cat.IdentityNames(), []string{OrchestratorUser}) {
		t.Errorf("services %v, identities %v", cat.Names(), cat.IdentityNames())
	}
	if orch, _ := cat.Identity(OrchestratorUser); len(orch.Upstreams) != 0 {
		t.Errorf("orchestrator upstreams %v with no Trino", orch.Upstreams)
	}
	if len(cat.Sidecared()) != 0 || HasWorkstation(c) {
		t.Errorf("sidecared %v, workstation %v", cat.Sidecared(), HasWorkstation(c))
	}
	for _, tc := range []struct {
		mesh, trino bool
		port        int
		want        bool
	}{{true, true, 8443, true}, {true, true, 0, false}, {false, true, 8443, false}, {true, false, 8443, false}} {
		c.Mesh.Enabled, c.Trino.Enabled, c.Mesh.WorkstationPort = tc.mesh, tc.trino, tc.port
		if got := HasWorkstation(c); got != tc.want {
			t.Errorf("mesh %v trino %v port %d: HasWorkstation %v", tc.mesh, tc.trino, tc.port, got)
		}
	}
}

const envoyTestDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// The Envoy version is the tag of mesh.envoy_image, read from the parsed
// reference: not fooled by a digest beside it or by a registry's port, and
// an image without a tag is said to have none.
func TestEnvoyImageVersion(t *testing.T) {
	for _, tc := range []struct{ ref, want, err string }{
		{"envoyproxy/envoy:v1.31.5", "v1.31.5", ""},
		{"envoyproxy/envoy:v1.31.5@" + envoyTestDigest, "v1.31.5", ""},
		{"registry:5000/envoy:1.31.5", "1.31.5", ""},
		{"registry:5000/mirror/envoyproxy/envoy:v1.31.5@" + envoyTestDigest, "v1.31.5", ""},
		{"registry:5000/envoy", "", "has no tag (Docker would take latest, which names no version): moat reads the Envoy version from the tag to check that Consul supports it: write it, e.g. registry:5000/envoy:v1.31.5"},
		{"envoyproxy/envoy@" + envoyTestDigest, "", "has a digest but no tag: moat reads the Envoy version from the tag to check that Consul supports it: write the tag before the digest, e.g. envoyproxy/envoy:v1.31.5@" + envoyTestDigest},
		{"Envoy", "", "invalid reference format"},
	} {
		got, err := EnvoyImageVersion(tc.ref)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.ref, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %q, %v; want an error with %q", tc.ref, got, err, tc.err)
		}
	}
}
