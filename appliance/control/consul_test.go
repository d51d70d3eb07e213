package control

import (
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/internal/testenv"
	"moat/mesh"
	"moat/pki"
	"moat/supervisor"

	"github.com/hashicorp/consul/api"
)

// sealedConsul runs the pinned Consul binary as moat's Consul container
// runs it: sealed (HTTPS on cfg's mesh.https_port for moat's client
// certificate only, plaintext on unix sockets), its TLS from sec's CA and
// its management token from sec. It stops when the test ends.
func sealedConsul(t *testing.T, cfg *config.Config, sec *appliance.Secrets) {
	t.Helper()
	bin := testenv.ConsulBinary(t)
	dir, err := os.MkdirTemp("", "mc") // unix socket paths must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Leaf{Name: config.ServiceConsul, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf, err := mesh.ServerConfig(mesh.ServerOptions{
		Datacenter: cfg.Mesh.Datacenter, NodeName: config.ServiceConsul, DataDir: filepath.Join(dir, "data"), ClientAddr: "127.0.0.1",
		HTTPPort: testenv.FreePort(t), GRPCPort: testenv.FreePort(t), SerfLANPort: testenv.FreePort(t), ServerPort: testenv.FreePort(t),
		ManagementToken: sec.EnsureUUID(appliance.SecretConsul), LogLevel: "warn",
		Seal: &mesh.SealOptions{SocketDir: dir, HTTPSPort: cfg.Mesh.HTTPSPort,
			CAFile: write("ca.pem", ca.CertPEM), CertFile: write("server.pem", cert), KeyFile: write("server-key.pem", key)},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "-config-file="+write("server.json", conf))
	testenv.StartProcess(t, "consul", cmd)
}

// consulControl is a Control for the default stack (its data dir in a
// temp dir) against a sealed Consul of its own, once ConsulReady passed.
func consulControl(t *testing.T) (*Control, *config.Config, *appliance.Secrets, context.Context) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n[mesh]\nhttps_port = "+strconv.Itoa(testenv.FreePort(t))+"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := appliance.OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	sealedConsul(t, cfg, sec)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	k := NewControl(cfg, sec, nil)
	t.Cleanup(k.Close)
	// Consul elects itself and sets up ACLs and its CA after it starts:
	// the gate is polled, as the supervisor polls it.
	testenv.Eventually(t, 90*time.Second, 200*time.Millisecond, "the consul gate", func() error { return k.ConsulReady(ctx) })
	return k, cfg, sec, ctx
}

func allowed(t *testing.T, ctx context.Context, c *api.Client, src, dst string) bool {
	t.Helper()
	ok, err := mesh.CheckIntention(ctx, c, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// The consul gate against a real, sealed Consul: it registers every
// sidecared service with its sidecar, gives every identity one token,
// writes the topology's intentions (everything else denied), keeps the
// tokens in the secrets file, and passes again unchanged (an adopted
// Consul). Then intentions are reconciled, health mirrored, and a client
// without moat's certificate is refused.
func TestControlAgainstConsul(t *testing.T) {
	t.Parallel()
	k, cfg, sec, ctx := consulControl(t)
	c, err := k.Consul()
	if err != nil {
		t.Fatal(err)
	}
	if info := k.ConsulInfo(); info.Version == "" || info.Datacenter != cfg.Mesh.Datacenter || info.NodeName != config.ServiceConsul {
		t.Errorf("ConsulInfo %+v", info)
	}

	serviceTokens := func() map[string]int {
		tokens, _, err := c.ACL().TokenList(nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, tok := range tokens {
			for _, si := range tok.ServiceIdentities {
				out[si.ServiceName]++
			}
		}
		return out
	}

	t.Run("registrations", func(t *testing.T) {
		services, err := c.Agent().Services()
		if err != nil {
			t.Fatal(err)
		}
		// Each application and its sidecar proxy, found by what it proxies.
		apps := map[string]*api.AgentService{}
		proxies := map[string]*api.AgentService{}
		for _, s := range services {
			if s.Kind == api.ServiceKindConnectProxy {
				proxies[s.Proxy.DestinationServiceName] = s
			} else {
				apps[s.Service] = s
			}
		}
		for _, m := range []map[string]*api.AgentService{apps, proxies} {
			if names := slices.Sorted(maps.Keys(m)); !slices.Equal(names, []string{config.ServiceNotebook, config.ServiceCoordinator}) {
				t.Fatalf("registered %v, want the notebook and the coordinator, each with a sidecar proxy", names)
			}
		}
		addr := config.PlanAddresses(cfg)
		if a := apps[config.ServiceCoordinator]; a.Address != addr.Coordinator.String() || a.Port != config.TrinoHTTPSPort {
			t.Errorf("the coordinator registered at %s:%d", a.Address, a.Port)
		}
		coord := proxies[config.ServiceCoordinator]
		if coord.Port != config.SidecarPort || coord.Address != addr.CoordinatorMesh.String() ||
			coord.Proxy.LocalServiceAddress != addr.Coordinator.String() || coord.Proxy.LocalServicePort != config.TrinoHTTPSPort {
			t.Errorf("coordinator sidecar %+v, proxy %+v", coord, coord.Proxy)
		}
		nb := proxies[config.ServiceNotebook]
		if nb.Address != addr.Notebook.String() || len(nb.Proxy.Upstreams) != 1 || nb.Proxy.Upstreams[0].DestinationName != config.ServiceCoordinator ||
			nb.Proxy.Upstreams[0].LocalBindPort != config.NotebookUpstreamPort {
			t.Errorf("notebook sidecar %+v, upstreams %+v", nb, nb.Proxy.Upstreams)
		}
	})

	t.Run("one token per identity, kept", func(t *testing.T) {
		want := map[string]int{config.OrchestratorUser: 1, config.WorkstationIdentity: 1, config.ServiceCoordinator: 1, config.ServiceNotebook: 1}
		got := serviceTokens()
		for id, n := range want {
			if got[id] != n {
				t.Errorf("%d tokens for %s, want %d (all: %v)", got[id], id, n, got)
			}
		}
		saved, err := appliance.OpenSecrets(cfg.DataDir())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(saved.Names(), sec.Names()) {
			t.Errorf("the secrets file holds %v, the process %v: the gate did not save its tokens", saved.Names(), sec.Names())
		}
		// Passing again (an adopted Consul) changes nothing.
		if err := k.ConsulReady(ctx); err != nil {
			t.Fatal(err)
		}
		if again := serviceTokens(); len(again) != len(got) || again[config.ServiceNotebook] != 1 || again[config.OrchestratorUser] != 1 {
			t.Errorf("tokens after a second pass: %v", again)
		}
		if drift, err := mesh.IntentionDrift(ctx, c, k.Intentions()); err != nil || len(drift) != 0 {
			t.Errorf("intentions drifted after a second pass: %v %v", drift, err)
		}
	})

	t.Run("topology intentions", func(t *testing.T) {
		for _, p := range []struct {
			src, dst string
			want     bool
		}{
			{config.OrchestratorUser, config.ServiceCoordinator, true}, {config.ServiceNotebook, config.ServiceCoordinator, true}, {config.WorkstationIdentity, config.ServiceCoordinator, true},
			{config.ServiceCoordinator, config.ServiceNotebook, false}, {config.OrchestratorUser, config.ServiceNotebook, false}, {config.WorkstationIdentity, config.ServiceNotebook, false},
			{"intruder", config.ServiceCoordinator, false},
		} {
			if got := allowed(t, ctx, c, p.src, p.dst); got != p.want {
				t.Errorf("%s → %s allowed %v, want %v", p.src, p.dst, got, p.want)
			}
		}
	})

	t.Run("SetIntentions reconciles at once", func(t *testing.T) {
		changes, err := k.SetIntentions(ctx, []config.Intention{
			{Source: config.ServiceNotebook, Destination: config.ServiceCoordinator, Action: "deny"},
			{Source: config.OrchestratorUser, Destination: config.ServiceNotebook, Action: "allow"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 {
			t.Errorf("changes %v, want the notebook's allow replaced and orchestrator → notebook added", changes)
		}
		if allowed(t, ctx, c, config.ServiceNotebook, config.ServiceCoordinator) || !allowed(t, ctx, c, config.OrchestratorUser, config.ServiceNotebook) || !allowed(t, ctx, c, config.OrchestratorUser, config.ServiceCoordinator) {
			t.Error("the declared intentions did not take effect (or the orchestrator lost Trino)")
		}
		if changes, err := k.SetIntentions(ctx, []config.Intention{
			{Source: config.ServiceNotebook, Destination: config.ServiceCoordinator, Action: "deny"},
			{Source: config.OrchestratorUser, Destination: config.ServiceNotebook, Action: "allow"},
		}); err != nil || len(changes) != 0 {
			t.Errorf("the same intentions again: %v, %v; want no change", changes, err)
		}
		changes, err = k.SetIntentions(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || !allowed(t, ctx, c, config.ServiceNotebook, config.ServiceCoordinator) || allowed(t, ctx, c, config.OrchestratorUser, config.ServiceNotebook) {
			t.Errorf("back to the topology's intentions: changes %v", changes)
		}
	})

	t.Run("MirrorHealth", func(t *testing.T) {
		check := func() *api.AgentCheck {
			checks, err := c.Agent().Checks()
			if err != nil {
				t.Fatal(err)
			}
			return checks[mesh.HealthCheckID(config.ServiceNotebook)]
		}
		if ch := check(); ch == nil || ch.Status != api.HealthCritical {
			t.Fatalf("before moat reports: %+v, want critical", ch)
		}
		for _, step := range []struct {
			to   supervisor.Phase
			want string
		}{
			{supervisor.PhaseStarting, api.HealthWarning}, {supervisor.PhaseHealthy, api.HealthPassing},
			{supervisor.PhaseUnhealthy, api.HealthCritical}, {supervisor.PhaseRunning, api.HealthPassing},
			{supervisor.PhaseRestarting, api.HealthCritical},
		} {
			if err := k.MirrorHealth(ctx, supervisor.Transition{Service: config.ServiceNotebook, To: step.to, Reason: "because " + string(step.to)}); err != nil {
				t.Fatal(err)
			}
			ch := check()
			if ch == nil || ch.Status != step.want || !strings.Contains(ch.Output, string(step.to)+": because "+string(step.to)) {
				t.Errorf("after %s: %+v, want %s", step.to, ch, step.want)
			}
		}
		// moat's own identities and [[service]]s have no check to update.
		before, _ := c.Agent().Checks()
		for _, name := range []string{config.OrchestratorUser, "web"} {
			if err := k.MirrorHealth(ctx, supervisor.Transition{Service: name, To: supervisor.PhaseHealthy}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if after, _ := c.Agent().Checks(); len(after) != len(before) {
			t.Errorf("checks %d → %d for services Consul does not know", len(before), len(after))
		}
	})

	t.Run("the Envoy image must be one this Consul supports", func(t *testing.T) {
		info := k.ConsulInfo()
		if len(info.EnvoyVersions) == 0 {
			t.Fatal("Consul lists no Envoy version")
		}
		envoy := *cfg
		envoy.Mesh.Proxy = "envoy"
		envoy.Mesh.EnvoyImage = "envoyproxy/envoy:v0.0.1"
		ke := NewControl(&envoy, sec, nil)
		defer ke.Close()
		if err := ke.ConsulReady(ctx); err == nil || !strings.Contains(err.Error(), `mesh.envoy_image = "envoyproxy/envoy:v0.0.1"`) {
			t.Errorf("an unsupported Envoy: %v", err)
		}
		envoy.Mesh.EnvoyImage = "envoyproxy/envoy:v" + strings.TrimPrefix(info.EnvoyVersions[0], "v")
		ke2 := NewControl(&envoy, sec, nil)
		defer ke2.Close()
		if err := ke2.ConsulReady(ctx); err != nil {
			t.Errorf("a supported Envoy (%s): %v", envoy.Mesh.EnvoyImage, err)
		}
	})

	t.Run("only moat's CA gets in", func(t *testing.T) {
		other, err := appliance.OpenSecrets(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		other.Set(appliance.SecretConsul, sec.EnsureUUID(appliance.SecretConsul)) // even with the right token
		ko := NewControl(cfg, other, nil)
		defer ko.Close()
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := ko.ConsulReady(short); err == nil {
			t.Error("a client certificate from another CA was served")
		}
	})
}
