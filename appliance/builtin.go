package appliance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"moat/appliance/config"
	moatembed "moat/embed"
	"moat/mesh"
	"moat/pki"
	"moat/supervisor"
	"moat/trino"
)

// UserSecret names the secret of a [[user]]'s generated password.
func UserSecret(user string) string { return "user_" + user }

// TokenSecret names the secret of service's Consul ACL token.
func TokenSecret(service string) string {
	return "consul_token_" + strings.ReplaceAll(service, "-", "_")
}
func catalogEnv(secret string) string { return "MOAT_SECRET_" + strings.ToUpper(secret) }

// planBuiltin plans Consul, the sidecars, Trino and the notebook; with a
// control plane k, each is equipped for its role (Equipper).
func planBuiltin(c *config.Config, sec *Secrets, k Equipper) (supervisor.Topology, error) {
	var t supervisor.Topology
	addr := config.PlanAddresses(c)
	if c.Mesh.Enabled {
		m, _ := netip.ParsePrefix(c.Mesh.Subnet)
		t.Networks = append(t.Networks, supervisor.Network{Name: config.MeshNetwork, Subnet: m.Masked().String(), Gateway: config.Nth(m, 1).String()})
		t.Volumes = append(t.Volumes, supervisor.Volume{Name: config.ConsulVolume}, supervisor.Volume{Name: ConsulSocketVolume})
		spec, err := consulSpec(c, sec, addr)
		if err != nil {
			return t, err
		}
		t.Services = append(t.Services, spec)
	}
	if c.Trino.Enabled {
		tp, _ := netip.ParsePrefix(c.Trino.Subnet)
		// No host address on the trino bridge: a local user of the host
		// must not reach a node's private address around the intentions
		// (moat itself reaches Trino only through the mesh and from inside
		// the nodes' namespaces, see Control).
		t.Networks = append(t.Networks, supervisor.Network{Name: config.TrinoNetwork, Internal: true, NoHostAddress: true,
			Subnet: tp.Masked().String(), Gateway: config.Nth(tp, 1).String()})
		specs, err := trinoSpecs(c, sec, addr)
		if err != nil {
			return t, err
		}
		t.Services = append(t.Services, specs...)
		t.Services = append(t.Services, sidecarSpec(c, sec, config.ServiceCoordinator))
	}
	if c.Notebook.Enabled {
		ca, err := sec.CA()
		if err != nil {
			return t, err
		}
		t.Services = append(t.Services, notebookSpec(c, sec, addr, ca.CertPEM), sidecarSpec(c, sec, config.ServiceNotebook))
	}
	if c.Mesh.Enabled {
		// After the fixed subnets, so that Docker's choice avoids them.
		t.Networks = append(t.Networks, supervisor.Network{Name: config.ControlNetwork})
	}
	if k != nil {
		cat := config.CatalogueOf(c)
		for i := range t.Services {
			if b, ok := cat.Service(t.Services[i].Name); ok {
				k.Equip(&t.Services[i], b, cat)
			}
		}
	}
	return t, nil
}

// Where the sealed Consul server keeps its sockets and TLS files.
const (
	// ConsulSocketVolume holds Consul's unix sockets: mounted into Consul
	// and the sidecars, never into an application.
	ConsulSocketVolume = "consul-run"
	ConsulSocketDir    = "/consul/run"
	consulTLSDir       = "/consul/config/tls"
	// ConsulTokenDir holds the sidecars' tokens inside the Consul
	// container, for `consul connect envoy -token-file` (no token in argv).
	ConsulTokenDir = "/consul/config/tokens"
	// sidecarTokenPath is where a built-in sidecar finds its token.
	sidecarTokenPath = "/consul/token"
)

// ConsulSeal is how the server is sealed (see mesh.SealOptions).
var ConsulSeal = mesh.SealOptions{
	SocketDir: ConsulSocketDir, HTTPSPort: mesh.DefaultHTTPSPort,
	CAFile: consulTLSDir + "/ca.pem", CertFile: consulTLSDir + "/server.pem", KeyFile: consulTLSDir + "/server-key.pem",
}

func consulSpec(c *config.Config, sec *Secrets, addr config.Addresses) (supervisor.Spec, error) {
	seal := ConsulSeal
	conf, err := mesh.ServerConfig(mesh.ServerOptions{
		Datacenter: c.Mesh.Datacenter, NodeName: config.ServiceConsul, HTTPPort: 8500,
		ManagementToken: sec.EnsureUUID(SecretConsul), LeafCertTTL: c.Mesh.LeafCertTTL.D(),
		Seal: &seal,
	})
	if err != nil {
		return supervisor.Spec{}, err
	}
	ca, err := sec.CA()
	if err != nil {
		return supervisor.Spec{}, err
	}
	cert, key, err := sec.EnsureCert(ca, certConsulServer, consulServerLeaf(c, addr))
	if err != nil {
		return supervisor.Spec{}, err
	}
	files := []supervisor.File{
		{Path: config.ConsulConfigPath, Mode: 0o600, Content: conf},
		{Path: seal.CAFile, Mode: 0o644, Content: ca.CertPEM},
		{Path: seal.CertFile, Mode: 0o644, Content: cert},
		{Path: seal.KeyFile, Mode: 0o600, Content: key},
	}
	if c.Mesh.Proxy == "envoy" {
		for _, svc := range sidecarServices(c) {
			files = append(files, supervisor.File{Path: ConsulTokenDir + "/" + svc, Mode: 0o600, Content: []byte(sec.EnsureUUID(TokenSecret(svc)))})
		}
	}
	return supervisor.Spec{
		Name: config.ServiceConsul, Image: c.Mesh.ConsulImage,
		Entrypoint: []string{"/bin/consul"},
		Command:    []string{"agent", "-config-file=" + config.ConsulConfigPath},
		Files:      files,
		Networks:   []supervisor.Attachment{{Network: config.ControlNetwork, Aliases: []string{config.ServiceConsul}}},
		// The only TCP listener: HTTPS that serves moat's client
		// certificate alone, published on host loopback.
		Ports: []supervisor.Port{{HostIP: "127.0.0.1", HostPort: c.Mesh.HTTPSPort, ContainerPort: seal.HTTPSPort}},
		Mounts: []supervisor.Mount{
			{Volume: config.ConsulVolume, Target: mesh.ServerDataDir},
			{Volume: ConsulSocketVolume, Target: ConsulSocketDir},
		},
		Restart: supervisor.RestartAlways, StartTimeout: c.Appliance.StartTimeout.D(), StopGrace: c.Appliance.StopGrace.D(),
	}, nil
}

// sidecarServices are the applications that get a sidecar.
func sidecarServices(c *config.Config) []string {
	var out []string
	for _, id := range config.CatalogueOf(c).Sidecared() {
		out = append(out, id.Name)
	}
	return out
}

// TrinoCluster is the trino package's view of the configured cluster.
func TrinoCluster(c *config.Config, sec *Secrets) trino.Cluster {
	addr := config.PlanAddresses(c)
	cl := trino.Cluster{
		Environment: c.Trino.Environment, Version: c.Trino.Version,
		Coordinator: trino.Node{ID: config.ServiceCoordinator, IP: addr.Coordinator},
		HTTPSPort:   config.TrinoHTTPSPort, Memory: config.MemoryPlan(c), GracePeriod: c.Trino.ShutdownGrace.D(),
		System:   trino.SystemUsers{Management: config.ManagementUser, Orchestrator: config.OrchestratorUser},
		Policies: trinoPolicies(c),
	}
	for i, ip := range addr.Workers {
		cl.Workers = append(cl.Workers, trino.Node{ID: config.ServiceWorker + "-" + strconv.Itoa(i+1), IP: ip})
	}
	for _, cat := range c.Catalogs {
		tc := trino.Catalog{Name: cat.Name, Connector: cat.Connector, Properties: cat.Properties}
		for prop, secret := range cat.Secrets {
			if tc.SecretEnv == nil {
				tc.SecretEnv = map[string]string{}
			}
			tc.SecretEnv[prop] = catalogEnv(secret)
		}
		cl.Catalogs = append(cl.Catalogs, tc)
	}
	return cl
}

// trinoPolicies turns [[policy]] into Trino access rules; report owners may
// be impersonated by the orchestrator.
func trinoPolicies(c *config.Config) trino.Policies {
	owners := map[string]bool{}
	for _, r := range c.Reports {
		owners[r.RunAs] = true
	}
	byUser := map[string]*trino.UserPolicy{}
	var order []string
	for _, u := range c.Users {
		byUser[u.Name] = &trino.UserPolicy{User: u.Name, ReportOwner: owners[u.Name]}
		order = append(order, u.Name)
	}
	for _, p := range c.Policies {
		up := byUser[p.User]
		if up == nil {
			continue
		}
		access := trino.AccessReadOnly
		for _, pr := range p.Privileges {
			if pr != "SELECT" {
				access = trino.AccessAll
			}
		}
		up.Catalogs = append(up.Catalogs, trino.CatalogGrant{Catalog: p.Catalog, Allow: access})
		tg := trino.TableGrant{Catalog: p.Catalog, Schema: orStar(p.Schema), Table: orStar(p.Table), Privileges: p.Privileges, Filter: p.RowFilter}
		for _, col := range p.Columns {
			tg.Columns = append(tg.Columns, trino.ColumnRule{Name: col.Name, Deny: col.Deny, Mask: col.Mask})
		}
		up.Tables = append(up.Tables, tg)
	}
	var out trino.Policies
	for _, u := range order {
		out.Users = append(out.Users, *byUser[u])
	}
	return out
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// trinoUsers are every Trino user with its password (generated when empty).
func trinoUsers(c *config.Config, sec *Secrets) []trino.User {
	users := []trino.User{
		{Name: config.ManagementUser, Password: sec.Ensure(SecretManagement)},
		{Name: config.OrchestratorUser, Password: sec.Ensure(SecretOrchestrator)},
	}
	for _, u := range c.Users {
		users = append(users, trino.User{Name: u.Name, Password: UserPassword(c, sec, u.Name)})
	}
	return users
}

// UserPassword is the Trino password of a [[user]]: the configured one, or
// one generated into the secrets file.
func UserPassword(c *config.Config, sec *Secrets, name string) string {
	for _, u := range c.Users {
		if u.Name == name && u.Password != "" {
			return u.Password
		}
	}
	return sec.Ensure(UserSecret(name))
}

// passwordFile returns the bcrypt password file for users: the one written
// before (writePasswordFile) while it still holds the same passwords, or,
// when there is none or it is stale, one made in memory at bcrypt's lowest
// cost (nothing starts from it: only moat up provisions, and it writes the
// file first). Whether the file is current is decided by an HMAC of the
// passwords, keyed with a secret, kept beside it: bcrypt's deliberate
// slowness is paid once per password change, not by every command.
func passwordFile(c *config.Config, sec *Secrets, users []trino.User) ([]byte, error) {
	if old, ok := currentPasswordFile(c, sec, users); ok {
		return old, nil
	}
	return trino.PasswordFile(users, trino.MinBcryptCost)
}

func passwordFilePath(c *config.Config) string {
	return filepath.Join(c.DataDir(), "trino", "password.db")
}

// passwordSum is the HMAC of users' passwords that marks a current file.
func passwordSum(sec *Secrets, users []trino.User) string {
	mac := hmac.New(sha256.New, []byte(sec.Ensure(SecretPasswordDBKey)))
	for _, u := range users {
		fmt.Fprintf(mac, "%s\x00%s\n", u.Name, u.Password)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// currentPasswordFile is the file written before, when its sum says it
// holds users' passwords.
func currentPasswordFile(c *config.Config, sec *Secrets, users []trino.User) ([]byte, bool) {
	path := passwordFilePath(c)
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	prev, _ := os.ReadFile(path + ".sum")
	return old, string(prev) == passwordSum(sec, users)
}

// writePasswordFile (provisioning) writes the password file of c's users,
// keeping the one written before (and its salt: a new one would change the
// nodes' config hash) while it still checks against every password.
func writePasswordFile(c *config.Config, sec *Secrets) error {
	users := trinoUsers(c, sec)
	if _, ok := currentPasswordFile(c, sec, users); ok {
		return nil
	}
	path, sum := passwordFilePath(c), passwordSum(sec, users)
	if old, err := os.ReadFile(path); err == nil && trino.CheckPasswordFile(old, users) == nil {
		return os.WriteFile(path+".sum", []byte(sum), 0o600)
	}
	data, err := trino.PasswordFile(users, trino.DefaultBcryptCost)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return os.WriteFile(path+".sum", []byte(sum), 0o600)
}

func trinoSpecs(c *config.Config, sec *Secrets, addr config.Addresses) ([]supervisor.Spec, error) {
	cl := TrinoCluster(c, sec)
	if err := cl.Validate(); err != nil {
		return nil, err
	}
	pw, err := passwordFile(c, sec, trinoUsers(c, sec))
	if err != nil {
		return nil, err
	}
	env := map[string]string{trino.SharedSecretEnv: sec.Ensure(SecretTrinoShared)}
	for _, cat := range c.Catalogs {
		for _, secret := range cat.Secrets {
			v, ok := sec.Get(secret)
			if !ok {
				return nil, fmt.Errorf("catalog %s needs secret %q: set it with `moat secrets set %s`", cat.Name, secret, secret)
			}
			env[catalogEnv(secret)] = v
		}
	}
	ca, err := sec.CA()
	if err != nil {
		return nil, err
	}
	var specs []supervisor.Spec
	for i, n := range append([]trino.Node{cl.Coordinator}, cl.Workers...) {
		files, err := trino.RenderNode(cl, n)
		if err != nil {
			return nil, err
		}
		files[trino.PasswordFilePath] = pw
		// The node's HTTPS keystore (clients and the other nodes verify it
		// against moat's CA) and that CA as its truststore.
		cert, key, err := sec.EnsureCert(ca, trinoCertName(n), trinoLeaf(cl, n))
		if err != nil {
			return nil, err
		}
		files[trino.KeystorePath] = trino.KeystorePEM(cert, key, ca.CertPEM)
		files[trino.TruststorePath] = ca.CertPEM
		spec := trinoNodeSpec(c, n, files, env)
		if i == 0 {
			spec.MemoryBytes = config.MemoryPlan(c).Coordinator.Container
			spec.Networks = append(spec.Networks, supervisor.Attachment{Network: config.MeshNetwork, IP: addr.CoordinatorMesh.String(), Aliases: []string{config.ServiceCoordinator}})
			// The sidecar shares this namespace: its public mTLS listener is
			// what the host (moat's own client) reaches on loopback.
			spec.Ports = []supervisor.Port{{HostIP: "127.0.0.1", HostPort: c.Mesh.CoordinatorPort, ContainerPort: config.SidecarPort}}
			spec.Ports = append(spec.Ports, envoyReadyPorts(c, config.ServiceCoordinator)...)
			if c.Mesh.Enabled {
				spec.DependsOn = []supervisor.Dependency{{Service: config.ServiceConsul, Condition: supervisor.Healthy}}
			}
		} else {
			spec.MemoryBytes = config.MemoryPlan(c).Worker.Container
			// A worker drains for up to about twice shutdown.grace-period.
			spec.StopGrace = 3*c.Trino.ShutdownGrace.D() + 10*time.Second
			spec.DependsOn = []supervisor.Dependency{{Service: config.ServiceCoordinator, Condition: supervisor.Healthy}}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// trinoCertName is where node n's key pair is kept in the secrets file.
func trinoCertName(n trino.Node) string { return "pki_" + strings.ReplaceAll(n.ID, "-", "_") }

// trinoLeaf is node n's certificate: a server for clients and nodes, and a
// client for internal communication, naming what trino.NodeCertNames says.
func trinoLeaf(cl trino.Cluster, n trino.Node) pki.Leaf {
	dns, ips := trino.NodeCertNames(cl, n)
	return pki.Leaf{Name: n.ID, DNSNames: dns, IPs: ips, Server: true, Client: true}
}

func trinoNodeSpec(c *config.Config, n trino.Node, files map[string][]byte, env map[string]string) supervisor.Spec {
	spec := supervisor.Spec{
		Name: n.ID, Image: c.Trino.Image, Env: env,
		Networks: []supervisor.Attachment{{Network: config.TrinoNetwork, IP: n.IP.String(), Aliases: []string{n.ID}}},
		Restart:  supervisor.RestartAlways, StartTimeout: c.Appliance.StartTimeout.D(),
		StopGrace: c.Trino.ShutdownGrace.D() + 10e9,
	}
	for _, rel := range sortedFiles(files) {
		path := rel
		if !filepath.IsAbs(path) {
			path = filepath.Join(trino.ConfigDir, rel)
		}
		mode := os.FileMode(0o644)
		if strings.Contains(path, "password") || strings.HasSuffix(path, ".json") || path == trino.KeystorePath {
			mode = 0o600
		}
		spec.Files = append(spec.Files, supervisor.File{Path: path, Mode: mode, Content: files[rel], UID: 1000, GID: 1000})
	}
	return spec
}

func sortedFiles(files map[string][]byte) []string {
	return slices.Sorted(maps.Keys(files))
}

// SampleNotebookPath is where the notebook finds moat's sample (the Jupyter
// images' user jovyan, uid 1000, group 100).
const SampleNotebookPath = "/home/jovyan/work/moat-trino.ipynb"

// EnvoyBootstrapPath is where an Envoy sidecar finds its bootstrap.
const EnvoyBootstrapPath = "/etc/moat-envoy/bootstrap.json"

// envoyReadyListener is the /ready listener inside the namespace.
const envoyReadyListener = config.SidecarPort + 1

// sidecarSpec runs the sidecar of service in its network namespace: Envoy
// or Consul's built-in proxy, as mesh.proxy says.
func sidecarSpec(c *config.Config, sec *Secrets, service string) supervisor.Spec {
	if c.Mesh.Proxy == "envoy" {
		return envoySpec(c, service)
	}
	return builtinSidecarSpec(c, sec, service)
}

// envoySpec runs Envoy from a bootstrap that Consul renders once it runs
// (Control.EnvoyBootstrap fills Prepare); its admin API is a unix socket in
// Envoy's own filesystem, out of the application's reach.
func envoySpec(c *config.Config, service string) supervisor.Spec {
	cmd, _ := mesh.EnvoyCommand(mesh.EnvoyOptions{BootstrapPath: EnvoyBootstrapPath, ReadyPort: envoyReadyListener})
	return supervisor.Spec{
		Name: service + config.SidecarSuffix, Image: c.Mesh.EnvoyImage,
		Entrypoint: cmd.Args[:1], Command: cmd.Args[1:],
		ShareNetworkWith: service,
		// xDS comes over Consul's gRPC unix socket (see consulSeal).
		Mounts:    []supervisor.Mount{{Volume: ConsulSocketVolume, Target: ConsulSocketDir}},
		DependsOn: []supervisor.Dependency{{Service: config.ServiceConsul, Condition: supervisor.Healthy}},
		Restart:   supervisor.RestartAlways, StartTimeout: c.Appliance.StartTimeout.D(), StopGrace: c.Appliance.StopGrace.D(),
	}
}

// envoyReadyPorts publishes an Envoy sidecar's /ready listener on loopback
// (it answers nothing else) from the namespace owner's container.
func envoyReadyPorts(c *config.Config, service string) []supervisor.Port {
	if !c.Mesh.Enabled || c.Mesh.Proxy != "envoy" {
		return nil
	}
	return []supervisor.Port{{HostIP: "127.0.0.1", HostPort: config.EnvoyReadyPort(c, service), ContainerPort: envoyReadyListener}}
}

func builtinSidecarSpec(c *config.Config, sec *Secrets, service string) supervisor.Spec {
	cmd, _ := mesh.BuiltinSidecar(mesh.SidecarOptions{
		ServiceID: service, ConsulBinary: "/bin/consul", HTTPAddr: ConsulSeal.HTTPSocket(),
		TokenFile: sidecarTokenPath,
	})
	return supervisor.Spec{
		Name: service + config.SidecarSuffix, Image: c.Mesh.ConsulImage,
		Entrypoint: cmd.Args[:1], Command: cmd.Args[1:], Env: cmd.Env,
		ShareNetworkWith: service,
		// Consul is reached by its unix socket and the token is a file: both
		// in the sidecar's own filesystem, which its application cannot see.
		Files:     []supervisor.File{{Path: sidecarTokenPath, Mode: 0o600, Content: []byte(sec.EnsureUUID(TokenSecret(service)))}},
		Mounts:    []supervisor.Mount{{Volume: ConsulSocketVolume, Target: ConsulSocketDir}},
		DependsOn: []supervisor.Dependency{{Service: config.ServiceConsul, Condition: supervisor.Healthy}},
		Restart:   supervisor.RestartAlways, StartTimeout: c.Appliance.StartTimeout.D(), StopGrace: c.Appliance.StopGrace.D(),
	}
}

// NotebookCAPath is where the notebook finds moat's CA (Trino's issuer).
const NotebookCAPath = "/etc/moat/ca.pem"

func notebookSpec(c *config.Config, sec *Secrets, addr config.Addresses, caPEM []byte) supervisor.Spec {
	user := c.Notebook.User
	spec := supervisor.Spec{
		Name: config.ServiceNotebook, Image: c.Notebook.Image, Command: c.Notebook.Command,
		Env: map[string]string{
			"JUPYTER_TOKEN": sec.Ensure(SecretNotebook),
			"TRINO_HOST":    "127.0.0.1", "TRINO_PORT": strconv.Itoa(config.NotebookUpstreamPort),
			"TRINO_URL":  "https://127.0.0.1:" + strconv.Itoa(config.NotebookUpstreamPort),
			"TRINO_USER": user, "TRINO_PASSWORD": UserPassword(c, sec, user),
			// Trino's certificate is moat's CA's: Python (requests, ssl,
			// the trino client), Go and curl verify it with these.
			"TRINO_CA_FILE": NotebookCAPath, "REQUESTS_CA_BUNDLE": NotebookCAPath, "SSL_CERT_FILE": NotebookCAPath,
		},
		Files: []supervisor.File{
			{Path: SampleNotebookPath, Mode: 0o644, Content: moatembed.SampleNotebook, UID: 1000, GID: 100},
			{Path: NotebookCAPath, Mode: 0o644, Content: caPEM},
		},
		Networks: []supervisor.Attachment{{Network: config.MeshNetwork, IP: addr.Notebook.String(), Aliases: []string{config.ServiceNotebook}}},
		Ports: []supervisor.Port{
			{HostIP: "127.0.0.1", HostPort: c.Notebook.Port, ContainerPort: 8888},
			{HostIP: "127.0.0.1", HostPort: c.Mesh.NotebookSidecarPort, ContainerPort: config.SidecarPort},
		},
		Restart: supervisor.RestartAlways, StartTimeout: c.Appliance.StartTimeout.D(), StopGrace: c.Appliance.StopGrace.D(),
	}
	spec.Ports = append(spec.Ports, envoyReadyPorts(c, config.ServiceNotebook)...)
	if len(c.Notebook.HealthCheck) > 0 {
		spec.Health = &supervisor.Probe{Command: c.Notebook.HealthCheck, Interval: 2e9, Timeout: 5e9, Retries: 3}
	}
	if c.Trino.Enabled {
		spec.DependsOn = []supervisor.Dependency{{Service: config.ServiceCoordinator + config.SidecarSuffix, Condition: supervisor.Healthy}}
	}
	return spec
}
