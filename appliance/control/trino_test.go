package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
	"moat/supervisor"
	"moat/trino"
)

// A worker's graceful shutdown is sent from inside its network namespace
// (moat's binary beside it): the signed request is a 0600 file there, never
// argv, and holds a token, not the shared secret. The gates and the
// shutdown are attached to the right services.
func TestShutdownWorkerFromInsideItsNamespace(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	sec := provisioned(t, cfg)
	shared := sec.Ensure(appliance.SecretTrinoShared)
	k := NewControl(cfg, sec, nil)
	if err := k.ShutdownWorker("trino-worker-1", "172.29.0.11")(context.Background()); err == nil || !strings.Contains(err.Error(), "needs the Docker runtime") {
		t.Errorf("without a runtime that runs moat beside the worker: %v", err)
	}
	var gotService string
	var gotArgs []string
	var gotFiles []supervisor.File
	rt := newContainers(t, cfg, "trino-worker-1")
	k = NewControl(cfg, sec, rt)
	rt.self = func(service string, args []string, files []supervisor.File) (int, string, error) {
		gotService, gotArgs, gotFiles = service, args, files
		return 1, "trino shutdown of 172.29.0.11:8443: 401 Unauthorized", nil
	}
	err = k.ShutdownWorker("trino-worker-1", "172.29.0.11")(context.Background())
	if err == nil || !strings.Contains(err.Error(), "from inside trino-worker-1's network namespace (exit 1): trino shutdown of 172.29.0.11:8443: 401") {
		t.Errorf("a refused shutdown: %v", err)
	}
	if gotService != "trino-worker-1" || strings.Join(gotArgs, " ") != TrinoShutdownCommand+" "+shutdownRequestPath {
		t.Errorf("ran %v in %s", gotArgs, gotService)
	}
	if len(gotFiles) != 1 || gotFiles[0].Path != shutdownRequestPath || gotFiles[0].Mode != 0o600 {
		t.Fatalf("files %+v, want the request alone, 0600", gotFiles)
	}
	var req trino.ShutdownRequest
	if err := json.Unmarshal(gotFiles[0].Content, &req); err != nil {
		t.Fatal(err)
	}
	if req.URL != "https://172.29.0.11:8443" || req.Subject != config.ManagementUser || req.Token == "" || len(req.CAPEM) == 0 {
		t.Errorf("request %+v", req)
	}
	if strings.Contains(string(gotFiles[0].Content), shared) || strings.Contains(strings.Join(gotArgs, " "), req.Token) {
		t.Error("the shared secret is in the request, or the token in argv")
	}

	if err := appliance.Provision(cfg, sec); err != nil {
		t.Fatal(err)
	}
	topo, err := appliance.Plan(cfg, sec, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range topo.Services {
		isWorker := strings.HasPrefix(s.Name, config.ServiceWorker+"-")
		if (s.Name == config.ServiceCoordinator || isWorker) && s.Gate == nil {
			t.Errorf("%s has no readiness gate", s.Name)
		}
		if isWorker != (s.PreStop != nil) {
			t.Errorf("%s: PreStop set = %v, want it on workers only", s.Name, s.PreStop != nil)
		}
	}
	for _, n := range topo.Networks {
		if n.Name == config.TrinoNetwork && (!n.NoHostAddress || !n.Internal) {
			t.Errorf("the trino network %+v must be internal and give the host no address", n)
		}
	}
}
