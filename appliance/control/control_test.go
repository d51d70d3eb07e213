package control

import (
	"context"
	"errors"
	"strings"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
)

// The Envoy bootstrap is rendered by an exec in the Consul container whose
// argv Docker keeps (and errors quote): the sidecar's token must be in a
// file there, never in that argv, nor in the error when the exec fails.
func TestEnvoyBootstrapKeepsTheTokenOutOfArgv(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mesh.Proxy = "envoy"
	sec := provisioned(t, cfg)
	token := sec.EnsureUUID(appliance.TokenSecret(config.ServiceNotebook))
	rt := newContainers(t, cfg, config.ServiceConsul)
	k := NewControl(cfg, sec, rt)
	var argv []string
	rt.exec = func(service string, cmd []string) (int, string, error) {
		argv = cmd
		return 1, "error: the agent said no to " + token, errors.New("exit 1")
	}
	_, err = k.EnvoyBootstrap(config.ServiceNotebook)(context.Background())
	if err == nil {
		t.Fatal("a failed bootstrap exec is not an error")
	}
	joined := strings.Join(argv, " ")
	if strings.Contains(joined, token) || !strings.Contains(joined, "-token-file "+appliance.ConsulTokenDir+"/"+config.ServiceNotebook) {
		t.Errorf("bootstrap argv %q: want -token-file and no token", joined)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("the error quotes the token: %v", err)
	}
	for _, want := range []string{"unix:///consul/run/http.sock", "unix:///consul/run/grpc.sock"} {
		if !strings.Contains(joined, want) {
			t.Errorf("bootstrap argv %q lacks %s (Consul's sockets)", joined, want)
		}
	}
	// The Consul container holds the token file the exec names.
	topo, err := appliance.Plan(cfg, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	consul, _ := topo.Service(config.ServiceConsul)
	found := false
	for _, f := range consul.Files {
		if f.Path == appliance.ConsulTokenDir+"/"+config.ServiceNotebook {
			found = string(f.Content) == token && f.Mode == 0o600
		}
	}
	if !found {
		t.Error("the Consul container lacks the notebook sidecar's 0600 token file")
	}
}
