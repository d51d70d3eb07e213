package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/mesh"
	"moat/supervisor"
	"moat/trino"

	"github.com/hashicorp/consul/api"
)

// Control drives the running built-in services from the host: Consul's ACL
// tokens, registrations and intentions, moat's own Connect identity
// (orchestrator), Trino readiness, and queries through the mesh. Close it
// when done.
type Control struct {
	cfg  *config.Config
	sec  *appliance.Secrets
	addr config.Addresses
	// rt runs what must run inside the stack's containers: Consul's Envoy
	// bootstraps, probes from inside a container (supervisor.Execer), and
	// the graceful shutdown of a worker from inside its network namespace
	// (supervisor.SelfRunner). Nil or without those (the process runtime):
	// they are refused with the reason.
	rt supervisor.Runtime

	// Made once: moat's TLS material for Consul and Trino.
	consulTLS func() (api.TLSConfig, error)
	trinoTLS  func() (*tls.Config, error)

	mu         sync.Mutex
	consul     *api.Client
	identity   *mesh.Identity
	intentions []config.Intention // the config's [[intention]]s, replaced by SetIntentions
	agent      mesh.AgentInfo     // what the Consul server says of itself, once ready

	trinoHTTP    *http.Client   // to the coordinator through the mesh (trinoClient)
	trinoHTTPFor *mesh.Identity // the identity trinoHTTP speaks as
}

// ConsulInfo is the version of the running Consul server and the Envoy
// versions it supports (read at runtime, once Consul is ready).
func (k *Control) ConsulInfo() mesh.AgentInfo {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.agent
}

// NewControl returns a Control for the stack of cfg, whose containers run
// on rt (nil: none, as in a test of what needs no container).
func NewControl(cfg *config.Config, sec *appliance.Secrets, rt supervisor.Runtime) *Control {
	k := &Control{cfg: cfg, sec: sec, addr: config.PlanAddresses(cfg), intentions: cfg.Intentions, rt: rt}
	k.consulTLS = sync.OnceValues(k.makeConsulTLS)
	k.trinoTLS = sync.OnceValues(k.makeTrinoTLS)
	return k
}

// execer is the runtime's Exec, if it has one.
func (k *Control) execer() (supervisor.Execer, bool) {
	ex, ok := k.rt.(supervisor.Execer)
	return ex, ok
}

// exec runs cmd in service's container.
func (k *Control) exec(ctx context.Context, ex supervisor.Execer, service string, cmd []string) (int, string, error) {
	in, err := supervisor.FindInstance(ctx, k.rt, k.cfg.Appliance.Project, service)
	if err != nil {
		return 0, "", err
	}
	return ex.Exec(ctx, in.ID, cmd)
}

// runSelf runs moat's binary with args beside service, files copied in.
func (k *Control) runSelf(ctx context.Context, p supervisor.SelfRunner, service string, args []string, files []supervisor.File) (int, string, error) {
	in, err := supervisor.FindInstance(ctx, k.rt, k.cfg.Appliance.Project, service)
	if err != nil {
		return 0, "", err
	}
	img, err := p.SelfImage(ctx)
	if err != nil {
		return 0, "", err
	}
	return p.RunInWithFiles(ctx, in.ID, img, args, files)
}

// Close stops the identity's renewal.
func (k *Control) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.identity != nil {
		k.identity.Close()
		k.identity = nil
	}
	if k.trinoHTTP != nil {
		k.trinoHTTP.CloseIdleConnections()
		k.trinoHTTP = nil
	}
}

// Consul is an API client for the server published on loopback, with the
// management token.
func (k *Control) Consul() (*api.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.consul != nil {
		return k.consul, nil
	}
	c, err := k.client(k.sec.EnsureUUID(appliance.SecretConsul))
	k.consul = c
	return c, err
}

// client reaches the sealed server's HTTPS API on host loopback with
// moat's client certificate (the server serves nobody without one).
func (k *Control) client(token string) (*api.Client, error) {
	tlsConf, err := k.ConsulTLSConfig()
	if err != nil {
		return nil, err
	}
	tr := api.DefaultConfig().Transport // pooled, as api.NewClient's own
	tr.TLSClientConfig = tlsConf        // which it keeps
	return api.NewClient(&api.Config{
		Address: "127.0.0.1:" + strconv.Itoa(k.cfg.Mesh.HTTPSPort), Scheme: "https",
		Token: token, Transport: tr,
	})
}

// ConsulTLSConfig is ConsulTLS for a plain net/http client.
func (k *Control) ConsulTLSConfig() (*tls.Config, error) {
	c, err := k.ConsulTLS()
	if err != nil {
		return nil, err
	}
	conf, err := api.SetupTLSConfig(&c)
	if err != nil {
		return nil, err
	}
	// Each handshake presents the current certificate (renew.go renews it).
	conf.Certificates, conf.GetClientCertificate = nil, k.sec.GetClientCertificate()
	return conf, nil
}

// ConsulTLS is moat's TLS configuration for Consul's HTTPS API: moat's CA
// and its client certificate.
func (k *Control) ConsulTLS() (api.TLSConfig, error) { return k.consulTLS() }

func (k *Control) makeConsulTLS() (api.TLSConfig, error) {
	ca, err := k.sec.CA()
	if err != nil {
		return api.TLSConfig{}, err
	}
	cert, key, err := k.sec.ClientCertificate()
	if err != nil {
		return api.TLSConfig{}, err
	}
	return api.TLSConfig{CAPem: ca.CertPEM, CertPEM: cert, KeyPEM: key}, nil
}

// Intentions are the topology's allows plus the user's [[intention]]s.
func (k *Control) Intentions() []mesh.Intention {
	var out []mesh.Intention
	if k.cfg.Trino.Enabled {
		out = append(out, mesh.Intention{Source: config.OrchestratorUser, Destination: config.ServiceCoordinator, Action: mesh.Allow})
		if k.cfg.Notebook.Enabled {
			out = append(out, mesh.Intention{Source: config.ServiceNotebook, Destination: config.ServiceCoordinator, Action: mesh.Allow})
		}
		if config.HasWorkstation(k.cfg) {
			out = append(out, mesh.Intention{Source: config.WorkstationIdentity, Destination: config.ServiceCoordinator, Action: mesh.Allow})
		}
	}
	k.mu.Lock()
	declared := k.intentions
	k.mu.Unlock()
	for _, in := range declared {
		// A declared intention replaces the topology's for the same pair.
		out = replacePair(out, in.Mesh())
	}
	return out
}

// SetIntentions replaces the declared intentions (a moat.toml edited while
// moat runs) and reconciles Consul with them at once.
func (k *Control) SetIntentions(ctx context.Context, declared []config.Intention) ([]mesh.IntentionChange, error) {
	c, err := k.Consul()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.intentions = declared
	k.mu.Unlock()
	return mesh.ReconcileIntentions(ctx, c, k.Intentions())
}

// envoySupported checks that the Envoy image ref is of a version Consul
// supports (supported: AgentInfo.EnvoyVersions). The version is the
// image's tag, from the parsed reference: not the text after its last ':',
// which is a digest's hash (NAME:TAG@sha256:…) or a registry's port
// (registry:5000/envoy).
func envoySupported(ref string, supported []string) error {
	version, err := config.EnvoyImageVersion(ref)
	if err != nil {
		// A reference with no tag (a digest alone, or none: Docker's
		// latest) does not say which Envoy it is. It is refused, not
		// waved through: an Envoy this Consul does not support fails
		// later, in xDS, in ways far harder to read than this; and the
		// fix costs nothing, since Docker pulls NAME:TAG@DIGEST by its
		// digest and the tag then names the version. Validation refuses
		// such a reference at its line in moat.toml before anything is
		// created; this covers a config built otherwise, and names the
		// versions this Consul supports.
		return fmt.Errorf("%w (this Consul supports %s)", err, strings.Join(supported, ", "))
	}
	_, err = mesh.PickEnvoy(supported, []string{version})
	return err
}

func replacePair(list []mesh.Intention, in mesh.Intention) []mesh.Intention {
	for i, x := range list {
		if x.Source == in.Source && x.Destination == in.Destination {
			list[i] = in
			return list
		}
	}
	return append(list, in)
}

// ConsulReady is the consul service's gate: the server has a leader, the
// sidecars' tokens exist, services are registered and intentions match the
// config. It is idempotent, so an adopted Consul passes it again.
func (k *Control) ConsulReady(ctx context.Context) error {
	c, err := k.Consul()
	if err != nil {
		return err
	}
	leader, err := c.Status().Leader()
	if err != nil || leader == "" {
		return fmt.Errorf("consul has no leader yet (%v)", err)
	}
	info, err := mesh.ReadAgentInfo(ctx, c)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.agent = info
	k.mu.Unlock()
	if k.cfg.Mesh.Proxy == "envoy" {
		// The Envoy image must be a version this Consul supports.
		if err := envoySupported(k.cfg.Mesh.EnvoyImage, info.EnvoyVersions); err != nil {
			return fmt.Errorf("mesh.envoy_image = %q: %w", k.cfg.Mesh.EnvoyImage, err)
		}
	}
	for _, id := range k.nativeIdentities() {
		if _, err := mesh.ServiceToken(ctx, c, id, k.sec.EnsureUUID(appliance.TokenSecret(id))); err != nil {
			return err
		}
	}
	for _, r := range k.registrations() {
		token := k.sec.EnsureUUID(appliance.TokenSecret(r.Service))
		if _, err := mesh.ServiceToken(ctx, c, r.Service, token); err != nil {
			return err
		}
		sc, err := k.client(token)
		if err != nil {
			return err
		}
		if _, err := mesh.Register(ctx, sc, r); err != nil {
			return err
		}
	}
	if _, err := mesh.ReconcileIntentions(ctx, c, k.Intentions()); err != nil {
		return err
	}
	return k.sec.Save()
}

// registrations are the mesh services with their sidecars.
func (k *Control) registrations() []mesh.Registration {
	var out []mesh.Registration
	for _, id := range config.CatalogueOf(k.cfg).Sidecared() {
		reg := mesh.Registration{
			Service: id.Name, ID: id.Name, Address: id.AppAddress, Port: id.AppPort,
			SidecarPort: config.SidecarPort, SidecarAddress: id.SidecarAddress,
			LocalRequestTimeout: id.RequestTimeout,
		}
		for _, u := range id.Upstreams {
			host, port, _ := net.SplitHostPort(u.LocalBind)
			n, _ := strconv.Atoi(port)
			reg.Upstreams = append(reg.Upstreams, mesh.Upstream{DestinationName: u.Destination, LocalBindAddress: host, LocalBindPort: n})
		}
		out = append(out, reg)
	}
	return out
}

// MirrorHealth tells Consul what moat observes of a mesh service, so that
// the catalog (and the sidecars' routing) tells the truth.
func (k *Control) MirrorHealth(ctx context.Context, t supervisor.Transition) error {
	if id, ok := config.CatalogueOf(k.cfg).Identity(t.Service); !ok || id.Native {
		return nil
	}
	c, err := k.Consul()
	if err != nil {
		return err
	}
	status := mesh.Critical
	switch t.To {
	case supervisor.PhaseHealthy, supervisor.PhaseRunning:
		status = mesh.Passing
	case supervisor.PhaseStarting:
		status = mesh.Warning
	}
	if err := mesh.UpdateHealth(ctx, c, t.Service, status, string(t.To)+": "+t.Reason); err != nil {
		return err
	}
	// Consul may add checks moat does not define, which the sealed server
	// can never pass (see mesh.PruneChecks): the catalog keeps moat's view.
	for _, r := range k.registrations() {
		if r.Service == t.Service {
			return mesh.PruneChecks(ctx, c, r)
		}
	}
	return nil
}

// CoordinatorReady is the coordinator's gate: its /v1/info, reached as
// moat's own identity through the coordinator's sidecar (the path queries
// take), says it has finished starting. Nothing on the host reaches the
// node's private address (the trino bridge has no host address), and the
// image's health-check asks localhost, where the node does not listen. The
// sidecar needs only the coordinator started, so it is up by then.
func (k *Control) CoordinatorReady(ctx context.Context) error {
	client, err := k.trinoClient(ctx)
	if err != nil {
		return err
	}
	info, err := trino.Info(ctx, client, coordinatorURL)
	if err != nil {
		return fmt.Errorf("through the mesh: %w", err)
	}
	if info.Starting {
		return errors.New("trino is starting")
	}
	return nil
}

// WorkerReady is worker id's gate: the coordinator, asked through the mesh,
// lists it as active in system.runtime.nodes, which it does once the worker
// has finished starting, has announced itself and answers the coordinator.
func (k *Control) WorkerReady(id string) func(context.Context) error {
	return func(ctx context.Context) error {
		db, err := k.DB(ctx, "", "moat-readiness")
		if err != nil {
			return err
		}
		defer db.Close()
		states, err := trino.NodeStates(ctx, db)
		if err != nil {
			return err
		}
		return trino.WorkerReady(states, id)
	}
}

// TrinoShutdownCommand is moat's hidden command that sends a graceful
// shutdown request (a trino.ShutdownRequest read from a file) from inside a
// worker's network namespace; main runs it.
const TrinoShutdownCommand = "__trino-shutdown"

// shutdownRequestPath is where that command finds its request (0600).
const shutdownRequestPath = "/run/moat/shutdown.json"

// ShutdownWorker asks worker service at ip to drain and exit (Trino's
// graceful shutdown, PUT /v1/info/state), signed with the shared secret: no
// password leaves moat. Only the worker's own network namespace reaches its
// private address, so the request is sent from there: moat's binary in a
// throwaway container beside the worker, the signed request a file in that
// container (never argv).
func (k *Control) ShutdownWorker(service, ip string) func(context.Context) error {
	return func(ctx context.Context) error {
		p, ok := k.rt.(supervisor.SelfRunner)
		if !ok {
			return errors.New("the graceful shutdown is sent from inside the worker's network namespace: it needs the Docker runtime")
		}
		ca, err := k.sec.CA()
		if err != nil {
			return err
		}
		base := "https://" + net.JoinHostPort(ip, strconv.Itoa(config.TrinoHTTPSPort))
		req, err := json.Marshal(trino.NewShutdownRequest(base, k.sec.Ensure(appliance.SecretTrinoShared), config.ManagementUser, ca.CertPEM, time.Now()))
		if err != nil {
			return err
		}
		files := []supervisor.File{{Path: shutdownRequestPath, Mode: 0o600, Content: req}}
		code, out, err := k.runSelf(ctx, p, service, []string{TrinoShutdownCommand, shutdownRequestPath}, files)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("from inside %s's network namespace (exit %d): %s", service, code, strings.TrimSpace(out))
		}
		return nil
	}
}

// coordinatorURL is the coordinator as moat's mesh client names it: the
// host part is the name Trino's certificate is verified against; the mesh
// decides where the connection goes.
var coordinatorURL = "https://" + config.ServiceCoordinator + ":" + strconv.Itoa(config.TrinoHTTPSPort)

// trinoClient reaches the coordinator through the mesh as moat's identity,
// Trino's own TLS (verified against moat's CA) inside the mesh mTLS. It is
// made once per identity, so gates that poll share one connection pool.
func (k *Control) trinoClient(ctx context.Context) (*http.Client, error) {
	id, err := k.Identity(ctx)
	if err != nil {
		return nil, err
	}
	conf, err := k.trinoTLS()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.trinoHTTP == nil || k.trinoHTTPFor != id {
		inner := conf.Clone()
		inner.ServerName = config.ServiceCoordinator
		k.trinoHTTP, k.trinoHTTPFor = id.TLSHTTPClient(config.ServiceCoordinator, inner), id
	}
	return k.trinoHTTP, nil
}

// nativeIdentities are the Connect-native identities moat itself holds.
func (k *Control) nativeIdentities() []string {
	var out []string
	for _, id := range config.CatalogueOf(k.cfg).Identities {
		if id.Native {
			out = append(out, id.Name)
		}
	}
	return out
}

// Identity is moat's own Connect identity (orchestrator), reaching the
// coordinator's sidecar on its loopback port.
func (k *Control) Identity(ctx context.Context) (*mesh.Identity, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.identity != nil {
		return k.identity, nil
	}
	id, err := k.newIdentity(ctx, config.OrchestratorUser)
	if err != nil {
		return nil, err
	}
	k.identity = id
	return id, nil
}

// WorkstationIdentity is a new Connect identity "workstation", the host
// endpoint's (the caller closes it).
func (k *Control) WorkstationIdentity(ctx context.Context) (*mesh.Identity, error) {
	return k.newIdentity(ctx, config.WorkstationIdentity)
}

func (k *Control) newIdentity(ctx context.Context, name string) (*mesh.Identity, error) {
	c, err := k.client(k.sec.EnsureUUID(appliance.TokenSecret(name)))
	if err != nil {
		return nil, err
	}
	id, err := mesh.NewIdentity(ctx, c, name)
	if err != nil {
		return nil, fmt.Errorf("moat's mesh identity (%s): %w", name, err)
	}
	for _, dst := range config.CatalogueOf(k.cfg).Sidecared() {
		id.SetAddress(dst.Name, "127.0.0.1:"+strconv.Itoa(dst.HostPort))
	}
	return id, nil
}

// makeTrinoTLS trusts moat's CA alone: the issuer of every Trino
// certificate. Callers clone it before changing it.
func (k *Control) makeTrinoTLS() (*tls.Config, error) {
	ca, err := k.sec.CA()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// DB opens Trino through the mesh as the orchestrator, running queries as
// sessionUser ("" = orchestrator itself).
func (k *Control) DB(ctx context.Context, sessionUser, source string) (*sql.DB, error) {
	// Standard TLS to Trino, verified against moat's CA, carried inside the
	// mesh mTLS to the coordinator's sidecar.
	client, err := k.trinoClient(ctx)
	if err != nil {
		return nil, err
	}
	return trino.Open(ctx, trino.Endpoint{
		URL: coordinatorURL, User: config.OrchestratorUser, Password: k.sec.Ensure(appliance.SecretOrchestrator),
		SessionUser: sessionUser, HTTPClient: client, Source: source,
	})
}

// ClusterReady is the coordinator sidecar's gate: through the mesh, as the
// orchestrator, the cluster reports every worker active.
func (k *Control) ClusterReady(ctx context.Context) error {
	db, err := k.DB(ctx, "", "moat-readiness")
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := trino.ActiveWorkers(ctx, db)
	if err != nil {
		return err
	}
	if n < k.cfg.Trino.Workers {
		return fmt.Errorf("%d of %d workers active", n, k.cfg.Trino.Workers)
	}
	return nil
}

// EnvoyBootstrap has Consul render the Envoy bootstrap of service's
// sidecar (`consul connect envoy -bootstrap`, run in the Consul container).
// The bootstrap holds the sidecar's token: it becomes a 0600 file.
func (k *Control) EnvoyBootstrap(service string) func(context.Context) ([]supervisor.File, error) {
	return func(ctx context.Context) ([]supervisor.File, error) {
		ex, ok := k.execer()
		if !ok {
			return nil, errors.New("the Envoy sidecars need the Docker runtime (to run consul connect envoy -bootstrap)")
		}
		token := k.sec.EnsureUUID(appliance.TokenSecret(service))
		// The token is read from a file in the Consul container
		// (consulTokenDir): an exec's argv is kept in Docker's records and
		// quoted by errors.
		cmd, err := mesh.EnvoyBootstrap(mesh.SidecarOptions{ServiceID: service, ConsulBinary: "/bin/consul",
			HTTPAddr: appliance.ConsulSeal.HTTPSocket(), TokenFile: appliance.ConsulTokenDir + "/" + service}, appliance.ConsulSeal.GRPCSocket(), "127.0.0.1:19000")
		if err != nil {
			return nil, err
		}
		code, out, err := k.exec(ctx, ex, config.ServiceConsul, append(cmd.Args, "-token-file", appliance.ConsulTokenDir+"/"+service))
		if err != nil || code != 0 {
			return nil, fmt.Errorf("consul connect envoy -bootstrap for %s: exit %d: %v %s", service, code, err, redactToken(out, token))
		}
		return []supervisor.File{{Path: appliance.EnvoyBootstrapPath, Mode: 0o600, Content: []byte(out)}}, nil
	}
}

func redactToken(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[token]")
}

// EnvoyReady is an Envoy sidecar's gate: its /ready listener answers LIVE.
func (k *Control) EnvoyReady(service string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, mesh.EnvoyReadyURL("127.0.0.1", config.EnvoyReadyPort(k.cfg, service)), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("envoy /ready: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("envoy /ready: %s", resp.Status)
		}
		return nil
	}
}

// all is a gate that passes when every one of gates passes, checked in
// order (nil when there are none).
func all(gates []func(context.Context) error) func(context.Context) error {
	if len(gates) == 0 {
		return nil
	}
	return func(ctx context.Context) error {
		for _, g := range gates {
			if err := g(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// probeCommands are the ways to reach an address from inside a container:
// the test image has /workload, a Jupyter image has python3.
func probeCommands(kind, target string) [][]string {
	if kind == "http" {
		return [][]string{
			{"/workload", "probe", "-timeout", "3s", target},
			{"python3", "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3); print('ok')", target},
		}
	}
	return [][]string{
		{"/workload", "dial", "-timeout", "2s", target},
		{"python3", "-c", "import socket,sys; h,p=sys.argv[1].rsplit(':',1); socket.create_connection((h,int(p)),2); print('ok')", target},
	}
}

// ProbeFrom tries target (a URL for kind "http", host:port for "tcp") from
// inside service's container. It reports whether target answered, with the
// probe's words; err means no probe could run there.
func (k *Control) ProbeFrom(ctx context.Context, service, kind, target string) (bool, string, error) {
	ex, ok := k.execer()
	if !ok {
		return false, "", errors.New("probing from inside a container needs the Docker runtime")
	}
	// The service first: a stack that is down or a stopped container is
	// the answer, not a missing probe program.
	in, err := supervisor.FindInstance(ctx, k.rt, k.cfg.Appliance.Project, service)
	if err != nil {
		return false, "", err
	}
	if in.State != supervisor.StateRunning {
		return false, "", fmt.Errorf("%s is not running (%s): nothing can be probed from inside it", service, in.State)
	}
	var tried []string
	for _, cmd := range probeCommands(kind, target) {
		code, out, err := ex.Exec(ctx, in.ID, cmd)
		if err != nil {
			if ctx.Err() != nil {
				return false, "", err
			}
			tried = append(tried, err.Error())
			continue // most often: that program is not in this image
		}
		return code == 0, strings.TrimSpace(out), nil
	}
	return false, "", fmt.Errorf("%s's image has neither /workload nor python3 to probe with (%s)", service, strings.Join(tried, "; "))
}

// UpstreamReady is the notebook sidecar's gate: from inside the notebook,
// Trino answers at the sidecar's localhost upstream.
func (k *Control) UpstreamReady(ctx context.Context) error {
	// HTTPS verified against moat's CA: SSL_CERT_FILE in the notebook's
	// environment names it (Go and Python's ssl read it).
	url := fmt.Sprintf("https://127.0.0.1:%d/v1/info", config.NotebookUpstreamPort)
	ok, detail, err := k.ProbeFrom(ctx, config.ServiceNotebook, "http", url)
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("the notebook's upstream %s does not answer yet: %s", url, detail)
}

// Equip gives the built-in service b (planned as s) what only a running
// control plane can do, by its role in the catalogue: a readiness gate, a
// preparation (an Envoy bootstrap) and a pre-stop action.
func (k *Control) Equip(s *supervisor.Spec, b config.Builtin, cat config.Catalogue) {
	switch b.Role {
	case config.RoleConsul:
		s.Gate = k.ConsulReady
	case config.RoleCoordinator:
		s.Gate = k.CoordinatorReady
	case config.RoleWorker:
		s.Gate = k.WorkerReady(b.Name)
		s.PreStop = k.ShutdownWorker(b.Name, b.IP.String())
	case config.RoleSidecar:
		var gates []func(context.Context) error
		if k.cfg.Mesh.Proxy == "envoy" {
			gates = append(gates, k.EnvoyReady(b.App))
			s.Prepare = k.EnvoyBootstrap(b.App)
		}
		app, _ := cat.Service(b.App)
		_, canExec := k.execer()
		switch {
		case app.Role == config.RoleCoordinator:
			gates = append(gates, k.ClusterReady)
		case k.cfg.Trino.Enabled && canExec:
			gates = append(gates, k.UpstreamReady) // the application's upstream to Trino
		}
		s.Gate = all(gates)
	}
}
