package mesh

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"moat/internal/golden"
)

// fakeToken stands in for a real ACL token in golden files.
const fakeToken = "00000000-0000-0000-0000-fake-token-0"

func TestServerConfigGolden(t *testing.T) {
	b, err := ServerConfig(ServerOptions{NodeName: "consul", LeafCertTTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/server.json", b)
	if _, err := ServerConfig(ServerOptions{NodeName: "consul", LeafCertTTL: time.Minute}); err == nil ||
		!strings.Contains(err.Error(), "minimum of 1h") {
		t.Errorf("a 1m leaf TTL: %v, want the 1h minimum named", err)
	}
	if _, err := ServerConfig(ServerOptions{}); err == nil {
		t.Error("a server without a node name was accepted")
	}
}

func TestRegistrationGolden(t *testing.T) {
	regs := []Registration{
		{Service: "trino-coordinator", Address: "172.28.0.10", Port: 8080,
			SidecarPort: 21000, SidecarAddress: "172.27.0.10",
			Protocol: "http", LocalRequestTimeout: 10 * time.Minute},
		{Service: "notebook", Address: "127.0.0.1", Port: 8888,
			SidecarPort: 21001, SidecarAddress: "172.27.0.11",
			Upstreams: []Upstream{{DestinationName: "trino-coordinator", LocalBindPort: 28080}}},
		{Service: "orchestrator", Address: "127.0.0.1", Port: 7701, Native: true},
	}
	var out []byte
	for _, r := range regs {
		reg, err := r.AgentRegistration()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(reg, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(append(out, "# "+r.Service+"\n"...), b...), '\n')
	}
	golden.Check(t, "testdata/registrations.json.txt", out)
}

func TestRegistrationValidation(t *testing.T) {
	base := Registration{Service: "notebook", Port: 8888, SidecarPort: 21001}
	cases := map[string]struct {
		edit func(*Registration)
		want string
	}{
		"no sidecar port":   {func(r *Registration) { r.SidecarPort = 0 }, "SidecarPort is not set: pick one in 21000-21255"},
		"bad protocol":      {func(r *Registration) { r.Protocol = "grpc" }, `protocol "grpc"`},
		"native + upstream": {func(r *Registration) { r.Native, r.SidecarPort = true, 0; r.Upstreams = []Upstream{{"x", "", 1}} }, "Connect-native service has no sidecar"},
		"same local port": {func(r *Registration) {
			r.Upstreams = []Upstream{{"a", "", 28080}, {"b", "", 28080}}
		}, "both bind local port 28080"},
	}
	for name, c := range cases {
		r := base
		c.edit(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("valid registration refused: %v", err)
	}
}

func TestSidecarCommandsGolden(t *testing.T) {
	o := SidecarOptions{ServiceID: "trino-coordinator", HTTPAddr: "http://consul:8500", Token: fakeToken}
	builtin, err := BuiltinSidecar(o)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := EnvoyBootstrap(o, "consul:8502", "127.0.0.1:19000")
	if err != nil {
		t.Fatal(err)
	}
	envoy, err := EnvoyCommand(EnvoyOptions{BootstrapPath: "/bootstrap/envoy.json", ReadyPort: 21100})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Command{builtin, boot, envoy} {
		for _, a := range c.Args {
			if strings.Contains(a, fakeToken) {
				t.Fatalf("the token is in argv: %q", c.Args)
			}
		}
	}
	b, err := json.MarshalIndent(map[string]Command{"builtin": builtin, "envoy-bootstrap": boot, "envoy": envoy}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/sidecars.json", append(b, '\n'))

	overlay, err := EnvoyOverlay(EnvoyOptions{ReadyPort: 21100})
	if err != nil {
		t.Fatal(err)
	}
	var pretty map[string]any
	if err := json.Unmarshal(overlay, &pretty); err != nil {
		t.Fatalf("overlay is not JSON: %v", err)
	}
	b, _ = json.MarshalIndent(pretty, "", "  ")
	golden.Check(t, "testdata/envoy-overlay.json", append(b, '\n'))

	if _, err := BuiltinSidecar(SidecarOptions{ServiceID: "x", HTTPAddr: "http://consul:8500"}); err == nil {
		t.Error("a sidecar without a token was accepted")
	}
	if _, err := EnvoyOverlay(EnvoyOptions{AdminSocket: "@envoy-admin", ReadyPort: 1}); err == nil {
		t.Error("an abstract admin socket (reachable from the app's network namespace) was accepted")
	}
	if got := EnvoyReadyURL("127.0.0.1", 21100); got != "http://127.0.0.1:21100/ready" {
		t.Errorf("ready URL %s", got)
	}
}

func TestPickEnvoy(t *testing.T) {
	supported := []string{"1.31.5", "1.30.9", "1.29.12", "1.28.7"} // Consul 1.20.2's list
	cases := []struct {
		available []string
		want      string
	}{
		{[]string{"v1.29.12", "v1.30.9"}, "1.30.9"},
		{[]string{"1.28.7", "1.31.5", "1.32.0"}, "1.31.5"},
	}
	for _, c := range cases {
		got, err := PickEnvoy(supported, c.available)
		if err != nil || got != c.want {
			t.Errorf("PickEnvoy(%v) = %q, %v; want %q", c.available, got, err, c.want)
		}
	}
	_, err := PickEnvoy(supported, []string{"1.33.0"})
	if err == nil || !strings.Contains(err.Error(), "Consul supports 1.31.5, 1.30.9") || !strings.Contains(err.Error(), "available are 1.33.0") {
		t.Errorf("no match: %v", err)
	}
	if !versionLess("1.31.5", "1.31.10") {
		t.Error("1.31.5 should sort before 1.31.10")
	}
}

func TestMatrixGolden(t *testing.T) {
	intentions := []Intention{DefaultDeny,
		{Source: "notebook", Destination: "trino-coordinator", Action: Allow},
		{Source: "orchestrator", Destination: "trino-coordinator", Action: Allow},
		{Source: Wildcard, Destination: "notebook", Action: Allow},
		{Source: "orchestrator", Destination: "notebook", Action: Deny},
	}
	services := []string{"notebook", "orchestrator", "trino-coordinator"}
	m := ExpectedMatrix(services, services, intentions)
	for p, want := range map[Pair]bool{
		{"notebook", "trino-coordinator"}: true, {"orchestrator", "notebook"}: false,
		{"trino-coordinator", "notebook"}: true, {"trino-coordinator", "orchestrator"}: false} {
		if m.Expected[p] != want {
			t.Errorf("expected %v = %v, want %v", p, m.Expected[p], want)
		}
	}
	m.Observe(Pair{"notebook", "trino-coordinator"}, Observation{Allowed: true, Detail: "data flowed"}, nil)
	m.Observe(Pair{"orchestrator", "trino-coordinator"}, Observation{Allowed: false, Detail: "closed after the handshake"}, nil)
	m.Observe(Pair{"trino-coordinator", "notebook"}, Observation{Allowed: true, Detail: "data flowed"}, nil)
	m.Observe(Pair{"orchestrator", "notebook"}, Observation{}, errString("no healthy instance of notebook"))
	golden.Check(t, "testdata/matrix.txt", []byte(m.Render()))
}

type errString string

func (e errString) Error() string { return string(e) }
