package control

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
)

// The catalogue is the one table of built-in services: the plan runs
// exactly its services, in its order, and every identity's doors are the
// ones its registration, verify and status use.
func TestCatalogueIsWhatThePlanRuns(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		services    []string
		identities  []string
	}{
		{"default", "", []string{"consul", "trino-coordinator", "trino-worker-1", "trino-coordinator-sidecar", "notebook", "notebook-sidecar"},
			[]string{"orchestrator", "workstation", "trino-coordinator", "notebook"}},
		{"three workers, envoy", "[trino]\nworkers = 3\n[mesh]\nproxy = \"envoy\"\n",
			[]string{"consul", "trino-coordinator", "trino-worker-1", "trino-worker-2", "trino-worker-3", "trino-coordinator-sidecar", "notebook", "notebook-sidecar"},
			[]string{"orchestrator", "workstation", "trino-coordinator", "notebook"}},
		{"no notebook, no host endpoint", "[notebook]\nenabled = false\n[mesh]\nworkstation_port = 0\n",
			[]string{"consul", "trino-coordinator", "trino-worker-1", "trino-coordinator-sidecar"},
			[]string{"orchestrator", "trino-coordinator"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"+tc.extra), "moat.toml")
			if err != nil {
				t.Fatal(err)
			}
			cat := config.CatalogueOf(c)
			if got := cat.Names(); !slices.Equal(got, tc.services) {
				t.Errorf("services %v, want %v", got, tc.services)
			}
			if got := cat.IdentityNames(); !slices.Equal(got, tc.identities) {
				t.Errorf("identities %v, want %v", got, tc.identities)
			}
			sec := provisioned(t, c)
			k := NewControl(c, sec, nil)
			topo, err := appliance.Plan(c, sec, k)
			if err != nil {
				t.Fatal(err)
			}
			var planned []string
			for _, s := range topo.Services {
				planned = append(planned, s.Name)
				b, ok := cat.Service(s.Name)
				if !ok {
					t.Errorf("the plan runs %s, which the catalogue does not list", s.Name)
					continue
				}
				// Each role is equipped for what moat must check of it.
				switch b.Role {
				case config.RoleConsul, config.RoleCoordinator:
					if s.Gate == nil {
						t.Errorf("%s (%s) has no readiness gate", s.Name, b.Role)
					}
				case config.RoleWorker:
					if s.Gate == nil || s.PreStop == nil {
						t.Errorf("worker %s: gate %v, graceful shutdown %v", s.Name, s.Gate != nil, s.PreStop != nil)
					}
					if len(s.Networks) == 0 || s.Networks[0].IP != b.IP.String() {
						t.Errorf("worker %s: planned at %s, catalogued at %s", s.Name, s.Networks[0].IP, b.IP)
					}
				case config.RoleSidecar:
					if s.ShareNetworkWith != b.App {
						t.Errorf("sidecar %s shares %q's namespace, catalogued for %s", s.Name, s.ShareNetworkWith, b.App)
					}
					if app, _ := cat.Service(b.App); app.Sidecar != s.Name {
						t.Errorf("%s's sidecar is %q in the catalogue, planned as %s", b.App, app.Sidecar, s.Name)
					}
					if envoy := c.Mesh.Proxy == "envoy"; envoy != (s.Prepare != nil) {
						t.Errorf("sidecar %s: Envoy bootstrap preparation %v with proxy %s", s.Name, s.Prepare != nil, c.Mesh.Proxy)
					}
				}
			}
			if !slices.Equal(planned, cat.Names()) {
				t.Errorf("the plan runs %v, the catalogue lists %v", planned, cat.Names())
			}
			// Registrations: one per sidecared identity, with its
			// catalogued upstreams.
			regs := k.registrations()
			if len(regs) != len(cat.Sidecared()) {
				t.Fatalf("%d registrations for %d sidecared identities", len(regs), len(cat.Sidecared()))
			}
			for i, id := range cat.Sidecared() {
				r := regs[i]
				if r.Service != id.Name || r.Port != id.AppPort || r.SidecarAddress != id.SidecarAddress || len(r.Upstreams) != len(id.Upstreams) {
					t.Errorf("registration %+v for identity %+v", r, id)
				}
				for j, u := range id.Upstreams {
					if got := r.Upstreams[j]; got.DestinationName != u.Destination || !strings.HasSuffix(u.LocalBind, ":"+strconv.Itoa(got.LocalBindPort)) {
						t.Errorf("%s's upstream %v registered as %+v", id.Name, u, got)
					}
				}
			}
			if sc, ok := cat.SidecarOf(config.ServiceNotebook + config.SidecarSuffix); c.Notebook.Enabled && (!ok || sc != config.ServiceNotebook) {
				t.Errorf("SidecarOf(notebook-sidecar) = %q, %v", sc, ok)
			}
			if _, ok := cat.SidecarOf(config.ServiceNotebook); ok {
				t.Error("the notebook itself is not a sidecar")
			}
		})
	}
}
