package appliance

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/supervisor"
	"moat/trino"
)

// provisionedPlan parses extra on top of the defaults (with a data dir of
// its own), generates what the plan needs into real secrets there (as
// Provision does, with a password file hashed at bcrypt's lowest cost)
// and plans without a control plane.
func provisionedPlan(t *testing.T, extra string) (*config.Config, *Secrets, supervisor.Topology) {
	t.Helper()
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"+extra), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	sec.Set("pg_password", "pg-secret-value-1234")
	writeFastPasswordFile(t, c, sec)
	if _, err := planBuiltin(c, sec, nil); err != nil {
		t.Fatal(err)
	}
	topo, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, sec, topo
}

// writeFastPasswordFile writes Trino's password file (and its sum) as
// provisioning leaves it, for the users' passwords (generated first), but
// at bcrypt's lowest cost: every plan after it reuses the file instead of
// hashing again, and tests stay fast (under -race too).
func writeFastPasswordFile(t *testing.T, c *config.Config, sec *Secrets) {
	t.Helper()
	users := trinoUsers(c, sec)
	pw, err := trino.PasswordFile(users, trino.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	path := passwordFilePath(c)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".sum", []byte(passwordSum(sec, users)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := currentPasswordFile(c, sec, users); !ok {
		t.Fatal("the written password file is not taken as current")
	}
}

// privateSecrets are the values of sec that must stay private: everything
// but the certificates (which are public).
func privateSecrets(t *testing.T, sec *Secrets) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range sec.Names() {
		if strings.HasSuffix(name, "_cert") {
			continue
		}
		v, _ := sec.Get(name)
		if len(v) < 8 {
			t.Fatalf("secret %s is too short to search for: %q", name, v)
		}
		out[name] = v
	}
	if len(out) < 8 {
		t.Fatalf("only %d private secrets provisioned: %v", len(out), sec.Names())
	}
	return out
}

func mustService(t *testing.T, topo supervisor.Topology, name string) supervisor.Spec {
	t.Helper()
	s, ok := topo.Service(name)
	if !ok {
		t.Fatalf("the plan has no %s", name)
	}
	return s
}

// No secret is in what Docker keeps in the open and errors quote: argv,
// labels, probes, names. Where a secret is (a file, the environment), a
// file holding it is 0600.
func TestPlanKeepsSecretsOutOfTheOpen(t *testing.T) {
	t.Parallel()
	for _, proxy := range []string{"builtin", "envoy"} {
		t.Run(proxy, func(t *testing.T) {
			_, sec, topo := provisionedPlan(t, "[mesh]\nproxy = \""+proxy+"\"\n[trino]\nworkers = 2\n"+pgCatalog)
			secrets := privateSecrets(t, sec)
			for _, s := range topo.Services {
				open, _ := json.Marshal(struct {
					Name, Image, Share string
					Entrypoint, Cmd    []string
					Labels             map[string]string
					Health             *supervisor.Probe
					Networks           []supervisor.Attachment
					Ports              []supervisor.Port
					Mounts             []supervisor.Mount
					Hash               string
				}{s.Name, s.Image, s.ShareNetworkWith, s.Entrypoint, s.Command, s.ExtraLabels, s.Health, s.Networks, s.Ports, s.Mounts, s.ConfigHash()})
				for name, v := range secrets {
					if bytes.Contains(open, []byte(v)) {
						t.Errorf("%s: secret %s is in its argv, labels, probe or names", s.Name, name)
					}
					for _, f := range s.Files {
						if bytes.Contains(f.Content, []byte(v)) && f.Mode != 0o600 {
							t.Errorf("%s: %s holds secret %s with mode %v, want 0600", s.Name, f.Path, name, f.Mode)
						}
					}
				}
			}
		})
	}
}

const pgCatalog = `[[catalog]]
name = "tpch"
connector = "tpch"
[[catalog]]
name = "pg"
connector = "postgresql"
properties = { "connection-url" = "jdbc:postgresql://db:5432/app", "connection-user" = "app" }
secrets = { "connection-password" = "pg_password" }
`

// Trino's nodes: each binds its own fixed address on the internal trino
// network; only the coordinator is on the mesh (at its own mesh address,
// where its sidecar lives); workers wait for a healthy coordinator, which
// waits for Consul; memory and grace come from the config.
func TestPlanTrinoNodes(t *testing.T) {
	t.Parallel()
	c, _, topo := provisionedPlan(t, "[trino]\nworkers = 3\nshutdown_grace = \"20s\"\n")
	addr := config.PlanAddresses(c)
	plan := config.MemoryPlan(c)
	coord := mustService(t, topo, config.ServiceCoordinator)
	wantCoordNets := []supervisor.Attachment{
		{Network: config.TrinoNetwork, IP: addr.Coordinator.String(), Aliases: []string{config.ServiceCoordinator}},
		{Network: config.MeshNetwork, IP: addr.CoordinatorMesh.String(), Aliases: []string{config.ServiceCoordinator}},
	}
	if !slices.EqualFunc(coord.Networks, wantCoordNets, equalAttachment) {
		t.Errorf("coordinator networks %+v, want %+v", coord.Networks, wantCoordNets)
	}
	if !slices.Equal(coord.DependsOn, []supervisor.Dependency{{Service: config.ServiceConsul, Condition: supervisor.Healthy}}) {
		t.Errorf("coordinator depends on %v", coord.DependsOn)
	}
	if coord.MemoryBytes != plan.Coordinator.Container || coord.StopGrace != 30*time.Second {
		t.Errorf("coordinator memory %d (want %d), stop grace %s (want grace + 10s)", coord.MemoryBytes, plan.Coordinator.Container, coord.StopGrace)
	}
	if !slices.Equal(coord.Ports, []supervisor.Port{{HostIP: "127.0.0.1", HostPort: c.Mesh.CoordinatorPort, ContainerPort: config.SidecarPort}}) {
		t.Errorf("coordinator publishes %v: only its sidecar's listener, on loopback", coord.Ports)
	}
	seen := map[string]string{}
	for i, ip := range addr.Workers {
		name := config.ServiceWorker + "-" + string(rune('1'+i))
		w := mustService(t, topo, name)
		if len(w.Networks) != 1 || w.Networks[0].Network != config.TrinoNetwork || w.Networks[0].IP != ip.String() {
			t.Errorf("%s networks %+v, want the trino network alone at %s", name, w.Networks, ip)
		}
		if !slices.Equal(w.DependsOn, []supervisor.Dependency{{Service: config.ServiceCoordinator, Condition: supervisor.Healthy}}) {
			t.Errorf("%s depends on %v, want a healthy coordinator", name, w.DependsOn)
		}
		// A draining worker gets up to twice the grace period, and more.
		if w.StopGrace != 3*20*time.Second+10*time.Second || w.MemoryBytes != plan.Worker.Container || len(w.Ports) != 0 {
			t.Errorf("%s: grace %s, memory %d, ports %v", name, w.StopGrace, w.MemoryBytes, w.Ports)
		}
		if other, dup := seen[w.Networks[0].IP]; dup {
			t.Errorf("%s and %s share an address", name, other)
		}
		seen[w.Networks[0].IP] = name
	}
	// Every node holds its config, its own keystore, the CA and the
	// password file, owned by Trino's uid; the private ones 0600.
	var keystores [][]byte
	for _, s := range topo.Services {
		if s.Name != config.ServiceCoordinator && !strings.HasPrefix(s.Name, config.ServiceWorker) {
			continue
		}
		files := map[string]supervisor.File{}
		for _, f := range s.Files {
			files[f.Path] = f
			if f.UID != 1000 || f.GID != 1000 {
				t.Errorf("%s: %s owned by %d:%d, want Trino's 1000:1000", s.Name, f.Path, f.UID, f.GID)
			}
		}
		for path, mode := range map[string]uint32{trino.KeystorePath: 0o600, trino.PasswordFilePath: 0o600, trino.TruststorePath: 0o644, trino.ConfigDir + "/config.properties": 0o644} {
			f, ok := files[path]
			if !ok || uint32(f.Mode) != mode {
				t.Errorf("%s: %s present %v, mode %v, want %o", s.Name, path, ok, f.Mode, mode)
			}
		}
		keystores = append(keystores, files[trino.KeystorePath].Content)
		if !bytes.Contains(files[trino.ConfigDir+"/config.properties"].Content, []byte("${ENV:"+trino.SharedSecretEnv+"}")) {
			t.Errorf("%s: the shared secret is not read from the environment", s.Name)
		}
		if s.Env[trino.SharedSecretEnv] == "" {
			t.Errorf("%s: no shared secret in the environment", s.Name)
		}
	}
	if len(keystores) != 4 {
		t.Fatalf("%d Trino nodes, want 4", len(keystores))
	}
	for i := range keystores {
		for j := range i {
			if bytes.Equal(keystores[i], keystores[j]) {
				t.Errorf("nodes %d and %d share a keystore", i, j)
			}
		}
	}
}

func equalAttachment(a, b supervisor.Attachment) bool {
	return a.Network == b.Network && a.IP == b.IP && slices.Equal(a.Aliases, b.Aliases)
}

// The networks: the mesh and trino subnets with their gateways at .1, the
// trino one internal and without a host address, and the control network
// (Consul's alone) last, with a subnet Docker picks.
func TestPlanNetworksAndIsolation(t *testing.T) {
	t.Parallel()
	c, _, topo := provisionedPlan(t, "[mesh]\nsubnet = \"10.20.0.0/24\"\n[trino]\nsubnet = \"10.21.0.0/24\"\n[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nvolumes = [\"html:/srv\", \"html:/backup:ro\", \"logs:/logs\"]\n")
	want := []supervisor.Network{
		{Name: config.MeshNetwork, Subnet: "10.20.0.0/24", Gateway: "10.20.0.1"},
		{Name: config.TrinoNetwork, Internal: true, NoHostAddress: true, Subnet: "10.21.0.0/24", Gateway: "10.21.0.1"},
		{Name: config.ControlNetwork},
		{Name: config.AppsNetwork},
	}
	if !slices.Equal(topo.Networks, want) {
		t.Errorf("networks %+v\nwant %+v", topo.Networks, want)
	}
	var vols []string
	for _, v := range topo.Volumes {
		vols = append(vols, v.Name)
	}
	if !slices.Equal(vols, []string{config.ConsulVolume, ConsulSocketVolume, "html", "logs"}) {
		t.Errorf("volumes %v: Consul's two, then each [[service]] volume once", vols)
	}
	for _, s := range topo.Services {
		onControl := slices.ContainsFunc(s.Networks, func(a supervisor.Attachment) bool { return a.Network == config.ControlNetwork })
		if onControl != (s.Name == config.ServiceConsul) {
			t.Errorf("%s on the control network: %v (Consul alone is)", s.Name, onControl)
		}
		mountsSocket := slices.ContainsFunc(s.Mounts, func(m supervisor.Mount) bool { return m.Volume == ConsulSocketVolume })
		if isSidecar := strings.HasSuffix(s.Name, config.SidecarSuffix); mountsSocket != (s.Name == config.ServiceConsul || isSidecar) {
			t.Errorf("%s mounts Consul's sockets: %v (only Consul and the sidecars may)", s.Name, mountsSocket)
		}
		for _, p := range s.Ports {
			if s.Name != "web" && p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s beyond loopback", s.Name, p)
			}
		}
	}
	web := mustService(t, topo, "web")
	var nets []string
	for _, a := range web.Networks {
		nets = append(nets, a.Network)
	}
	if !slices.Equal(nets, []string{config.AppsNetwork, config.MeshNetwork}) {
		t.Errorf("a [[service]] is on %v: its own network and the mesh, never trino or control", nets)
	}
	if web.Restart != supervisor.RestartAlways || web.StartTimeout != c.Appliance.StartTimeout.D() || web.StopGrace != c.Appliance.StopGrace.D() {
		t.Errorf("web: restart %q, start timeout %s, stop grace %s: want the appliance's defaults", web.Restart, web.StartTimeout, web.StopGrace)
	}
	consul := mustService(t, topo, config.ServiceConsul)
	if len(consul.Networks) != 1 || consul.Networks[0].IP != "" {
		t.Errorf("consul networks %+v: the control network alone, no fixed address", consul.Networks)
	}
	if !slices.Equal(consul.Ports, []supervisor.Port{{HostIP: "127.0.0.1", HostPort: c.Mesh.HTTPSPort, ContainerPort: 8501}}) {
		t.Errorf("consul publishes %v: its HTTPS API alone, on loopback", consul.Ports)
	}
}

// The sidecars: each in its application's namespace, depending on a
// healthy Consul; the built-in proxy holds its token as a 0600 file named
// in its environment (never the token itself); Envoy gets its token later
// in the bootstrap, and its /ready listener is published from its
// application's container at the sidecar port + 500.
func TestPlanSidecars(t *testing.T) {
	t.Parallel()
	t.Run("builtin", func(t *testing.T) {
		c, sec, topo := provisionedPlan(t, "")
		for _, app := range []string{config.ServiceCoordinator, config.ServiceNotebook} {
			s := mustService(t, topo, app+config.SidecarSuffix)
			token, _ := sec.Get(TokenSecret(app))
			if s.ShareNetworkWith != app || s.Image != c.Mesh.ConsulImage || len(s.Networks) != 0 || len(s.Ports) != 0 {
				t.Errorf("%s: shares %q, image %q, networks %v, ports %v", s.Name, s.ShareNetworkWith, s.Image, s.Networks, s.Ports)
			}
			if !slices.Equal(s.DependsOn, []supervisor.Dependency{{Service: config.ServiceConsul, Condition: supervisor.Healthy}}) {
				t.Errorf("%s depends on %v", s.Name, s.DependsOn)
			}
			if len(s.Files) != 1 || s.Files[0].Path != sidecarTokenPath || s.Files[0].Mode != 0o600 || string(s.Files[0].Content) != token {
				t.Errorf("%s files %+v, want its token alone at %s, 0600", s.Name, s.Files, sidecarTokenPath)
			}
			envText, _ := json.Marshal(s.Env)
			if strings.Contains(string(envText), token) || !strings.Contains(string(envText), sidecarTokenPath) {
				t.Errorf("%s env %s: want the token file named, not the token", s.Name, envText)
			}
			if !slices.Contains(s.Command, "-sidecar-for") || !slices.Contains(s.Command, app) || !slices.Contains(s.Command, ConsulSeal.HTTPSocket()) {
				t.Errorf("%s command %v", s.Name, s.Command)
			}
		}
		if p := mustService(t, topo, config.ServiceNotebook).Ports; len(p) != 2 {
			t.Errorf("notebook ports %v: Jupyter and its sidecar, no Envoy /ready", p)
		}
	})
	t.Run("envoy", func(t *testing.T) {
		c, _, topo := provisionedPlan(t, "[mesh]\nproxy = \"envoy\"\n")
		consul := mustService(t, topo, config.ServiceConsul)
		var tokenFiles []string
		for _, f := range consul.Files {
			if strings.HasPrefix(f.Path, ConsulTokenDir+"/") {
				tokenFiles = append(tokenFiles, strings.TrimPrefix(f.Path, ConsulTokenDir+"/"))
				if f.Mode != 0o600 {
					t.Errorf("%s mode %v", f.Path, f.Mode)
				}
			}
		}
		if !slices.Equal(tokenFiles, []string{config.ServiceCoordinator, config.ServiceNotebook}) {
			t.Errorf("Consul holds token files for %v, want one per sidecared service", tokenFiles)
		}
		for _, app := range []string{config.ServiceCoordinator, config.ServiceNotebook} {
			s := mustService(t, topo, app+config.SidecarSuffix)
			if s.Image != c.Mesh.EnvoyImage || s.ShareNetworkWith != app || len(s.Files) != 0 || len(s.Env) != 0 {
				t.Errorf("%s: image %q, shares %q, files %d, env %v", s.Name, s.Image, s.ShareNetworkWith, len(s.Files), s.Env)
			}
			owner := mustService(t, topo, app)
			ready := supervisor.Port{HostIP: "127.0.0.1", HostPort: config.EnvoyReadyPort(c, app), ContainerPort: envoyReadyListener}
			if !slices.Contains(owner.Ports, ready) {
				t.Errorf("%s publishes %v, lacking its sidecar's /ready %v", app, owner.Ports, ready)
			}
		}
		if config.EnvoyReadyPort(c, config.ServiceCoordinator) != c.Mesh.CoordinatorPort+500 || config.EnvoyReadyPort(c, config.ServiceNotebook) != c.Mesh.NotebookSidecarPort+500 {
			t.Errorf("ready ports %d %d", config.EnvoyReadyPort(c, config.ServiceCoordinator), config.EnvoyReadyPort(c, config.ServiceNotebook))
		}
	})
}

// The notebook: the configured image, command and probe; its Trino
// settings and password in the environment; moat's CA and the sample as
// files; on the mesh at its fixed address; waiting for Trino's door.
func TestPlanNotebook(t *testing.T) {
	t.Parallel()
	c, sec, topo := provisionedPlan(t, "[notebook]\ncommand = [\"start-notebook.py\", \"--port=8888\"]\nport = 9888\n")
	nb := mustService(t, topo, config.ServiceNotebook)
	if nb.Image != c.Notebook.Image || !slices.Equal(nb.Command, c.Notebook.Command) || len(nb.Entrypoint) != 0 {
		t.Errorf("image %q, entrypoint %v, command %v", nb.Image, nb.Entrypoint, nb.Command)
	}
	if nb.Health == nil || !slices.Equal(nb.Health.Command, c.Notebook.HealthCheck) {
		t.Errorf("probe %+v, want the configured health_check", nb.Health)
	}
	token, _ := sec.Get(SecretNotebook)
	for k, want := range map[string]string{
		"JUPYTER_TOKEN": token, "TRINO_USER": c.Notebook.User, "TRINO_PASSWORD": UserPassword(c, sec, c.Notebook.User),
		"TRINO_HOST": "127.0.0.1", "TRINO_PORT": "8080", "TRINO_URL": "https://127.0.0.1:8080",
		"SSL_CERT_FILE": NotebookCAPath, "REQUESTS_CA_BUNDLE": NotebookCAPath, "TRINO_CA_FILE": NotebookCAPath,
	} {
		if nb.Env[k] != want || want == "" {
			t.Errorf("env %s = %q, want %q", k, nb.Env[k], want)
		}
	}
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]supervisor.File{}
	for _, f := range nb.Files {
		files[f.Path] = f
	}
	if !bytes.Equal(files[NotebookCAPath].Content, ca.CertPEM) || len(files[SampleNotebookPath].Content) == 0 || files[SampleNotebookPath].UID != 1000 || files[SampleNotebookPath].GID != 100 {
		t.Errorf("notebook files %v", nb.Files)
	}
	if len(nb.Networks) != 1 || nb.Networks[0].Network != config.MeshNetwork || nb.Networks[0].IP != config.PlanAddresses(c).Notebook.String() {
		t.Errorf("networks %+v", nb.Networks)
	}
	wantPorts := []supervisor.Port{{HostIP: "127.0.0.1", HostPort: 9888, ContainerPort: 8888}, {HostIP: "127.0.0.1", HostPort: c.Mesh.NotebookSidecarPort, ContainerPort: config.SidecarPort}}
	if !slices.Equal(nb.Ports, wantPorts) {
		t.Errorf("ports %v, want %v", nb.Ports, wantPorts)
	}
	if !slices.Equal(nb.DependsOn, []supervisor.Dependency{{Service: config.ServiceCoordinator + config.SidecarSuffix, Condition: supervisor.Healthy}}) {
		t.Errorf("depends on %v", nb.DependsOn)
	}
	// Without a health_check the notebook has no probe.
	_, _, topo = provisionedPlan(t, "[notebook]\nhealth_check = []\n")
	if nb := mustService(t, topo, config.ServiceNotebook); nb.Health != nil {
		t.Errorf("probe %+v with health_check = []", nb.Health)
	}
}

// A configured password is used as it is; an empty one is generated once
// and kept.
func TestUserPasswords(t *testing.T) {
	c, err := config.Parse([]byte("[[user]]\nname = \"analyst\"\npassword = \"configured-password\"\n[[user]]\nname = \"bob\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := OpenSecrets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := UserPassword(c, sec, "analyst"); got != "configured-password" {
		t.Errorf("analyst's password %q", got)
	}
	bob := UserPassword(c, sec, "bob")
	if len(bob) < 24 || UserPassword(c, sec, "bob") != bob {
		t.Errorf("bob's generated password %q is short or not kept", bob)
	}
	if v, _ := sec.Get(UserSecret("bob")); v != bob {
		t.Errorf("stored as %q", v)
	}
	if _, ok := sec.Get(UserSecret("analyst")); ok {
		t.Error("a configured password was also generated")
	}
	var names []string
	for _, u := range trinoUsers(c, sec) {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{config.ManagementUser, config.OrchestratorUser, "analyst", "bob"}) {
		t.Errorf("Trino users %v", names)
	}
}

// A catalog's secret reaches Trino only through the environment; planning
// a catalog whose secret was never set says how to set it.
func TestPlanCatalogSecrets(t *testing.T) {
	t.Parallel()
	_, _, topo := provisionedPlan(t, pgCatalog)
	for _, name := range []string{config.ServiceCoordinator, config.ServiceWorker + "-1"} {
		s := mustService(t, topo, name)
		if s.Env[catalogEnv("pg_password")] != "pg-secret-value-1234" {
			t.Errorf("%s env lacks MOAT_SECRET_PG_PASSWORD: %v", name, slices.Sorted(mapKeys(s.Env)))
		}
		for _, f := range s.Files {
			if bytes.Contains(f.Content, []byte("pg-secret-value-1234")) {
				t.Errorf("%s: the catalog's password is written into %s", name, f.Path)
			}
			if strings.HasSuffix(f.Path, "catalog/pg.properties") && !bytes.Contains(f.Content, []byte("${ENV:MOAT_SECRET_PG_PASSWORD}")) {
				t.Errorf("%s: pg.properties does not read the password from the environment:\n%s", name, f.Content)
			}
		}
	}
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"+pgCatalog), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec := mustOpenSecrets(t, dir)
	err = Provision(c, sec)
	if err == nil || err.Error() != "catalog pg needs secret \"pg_password\": set it with `moat secrets set pg_password`" {
		t.Errorf("provisioning without the catalog's secret: %v", err)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A changed secret changes the config hash of the services holding it
// (and only theirs), so that moat re-creates exactly those.
func TestConfigHashFollowsSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec := mustOpenSecrets(t, dir)
	if _, err := planBuiltin(c, sec, nil); err != nil {
		t.Fatal(err)
	}
	writeFastPasswordFile(t, c, sec) // the plans below reuse it, as moat up's do
	before, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	sec.Set(SecretNotebook, "a-new-jupyter-token-value")
	after, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range before.Services {
		changed := s.ConfigHash() != after.Services[i].ConfigHash()
		if changed != (s.Name == config.ServiceNotebook) {
			t.Errorf("%s: hash changed %v after the notebook token changed", s.Name, changed)
		}
	}
}

// Trino's addresses and the planned ones agree.
func TestTrinoClusterMatchesAddresses(t *testing.T) {
	c, err := config.Parse([]byte("[trino]\nworkers = 2\n[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nprivileges = [\"SELECT\", \"INSERT\"]\n[[policy]]\nuser = \"analyst\"\ncatalog = \"memory\"\nschema = \"s\"\nprivileges = [\"SELECT\"]\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec := mustOpenSecretsReadOnly(t, t.TempDir())
	cl := TrinoCluster(c, sec)
	addr := config.PlanAddresses(c)
	if cl.Coordinator.IP != addr.Coordinator || len(cl.Workers) != 2 || cl.Workers[1].IP != addr.Workers[1] || cl.Workers[1].ID != "trino-worker-2" {
		t.Errorf("cluster %+v", cl)
	}
	if err := cl.Validate(); err != nil {
		t.Error(err)
	}
	// Any privilege but SELECT makes the catalog grant all; an unset
	// schema or table is every one.
	pol := cl.Policies.Users
	if len(pol) != 1 || pol[0].User != "analyst" || !pol[0].ReportOwner || len(pol[0].Catalogs) != 2 {
		t.Fatalf("policies %+v", pol)
	}
	if pol[0].Catalogs[0].Allow != trino.AccessAll || pol[0].Catalogs[1].Allow != trino.AccessReadOnly {
		t.Errorf("catalog grants %+v", pol[0].Catalogs)
	}
	if g := pol[0].Tables[0]; g.Schema != "*" || g.Table != "*" {
		t.Errorf("an unset schema and table: %+v", g)
	}
	if g := pol[0].Tables[1]; g.Schema != "s" || g.Table != "*" {
		t.Errorf("a schema without a table: %+v", g)
	}
	if !netip.MustParsePrefix(c.Trino.Subnet).Contains(cl.Coordinator.IP) {
		t.Errorf("coordinator %s outside %s", cl.Coordinator.IP, c.Trino.Subnet)
	}
}
