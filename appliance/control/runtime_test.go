package control

import (
	"context"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// containers is a fake runtime whose running instances answer Exec and
// RunInWithFiles through exec and self, called with the service's name:
// what Control needs of Docker to run things inside the stack.
type containers struct {
	*supervisortest.Runtime
	exec func(service string, cmd []string) (int, string, error)
	self func(service string, args []string, files []supervisor.File) (int, string, error)
}

// provisioned gives cfg a data directory of the test's own and the
// secrets `moat up` would make there.
func provisioned(t *testing.T, cfg *config.Config) *appliance.Secrets {
	t.Helper()
	cfg.Appliance.DataDir = t.TempDir()
	sec, err := appliance.OpenSecrets(cfg.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := appliance.Provision(cfg, sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

// newContainers runs one instance of each of services in cfg's project.
func newContainers(t *testing.T, cfg *config.Config, services ...string) *containers {
	t.Helper()
	c := &containers{Runtime: supervisortest.New(supervisortest.Options{})}
	for _, name := range services {
		c.Seed(cfg.Appliance.Project, supervisor.Spec{Name: name}, supervisor.Instance{State: supervisor.StateRunning})
	}
	return c
}

func (c *containers) service(ctx context.Context, id string) (string, error) {
	in, err := c.Inspect(ctx, id)
	return in.Service, err
}

func (c *containers) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	svc, err := c.service(ctx, id)
	if err != nil {
		return 0, "", err
	}
	return c.exec(svc, cmd)
}

func (c *containers) SelfImage(context.Context) (string, error) { return "moat-self:test", nil }

func (c *containers) RunInWithFiles(ctx context.Context, id, _ string, args []string, files []supervisor.File) (int, string, error) {
	svc, err := c.service(ctx, id)
	if err != nil {
		return 0, "", err
	}
	return c.self(svc, args, files)
}

// Control finds a service's current instance by name in its project: an
// exec for a service that is not running is refused, naming what runs.
func TestControlExecFindsTheServiceInstance(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	rt := newContainers(t, cfg, config.ServiceNotebook)
	var ran string
	rt.exec = func(service string, cmd []string) (int, string, error) { ran = service; return 0, "ok", nil }
	k := NewControl(cfg, provisioned(t, cfg), rt)
	ok, detail, err := k.ProbeFrom(context.Background(), config.ServiceNotebook, "tcp", "127.0.0.1:1")
	if err != nil || !ok || detail != "ok" || ran != config.ServiceNotebook {
		t.Errorf("probe from the notebook: ok=%v %q %v, ran in %q", ok, detail, err, ran)
	}
	if _, _, err := k.ProbeFrom(context.Background(), config.ServiceConsul, "tcp", "127.0.0.1:1"); err == nil {
		t.Error("a probe from a service that is not running ran")
	}
	none := NewControl(cfg, provisioned(t, cfg), nil)
	if _, _, err := none.ProbeFrom(context.Background(), config.ServiceNotebook, "tcp", "127.0.0.1:1"); err == nil {
		t.Error("a probe ran without a runtime that runs commands in containers")
	}
}
