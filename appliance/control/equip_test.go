package control

import (
	"testing"

	"moat/appliance"
	"moat/appliance/config"
)

// The control plane equips each built-in service by its role: Consul and
// the Trino nodes have readiness gates, a worker drains before it stops,
// Envoy sidecars have their bootstrap rendered first and a gate on Envoy's
// /ready; the notebook's sidecar waits for Trino through the upstream only
// where something can run inside the notebook to check it.
func TestControlEquipsByRole(t *testing.T) {
	type want struct{ gate, prepare, preStop bool }
	for _, tc := range []struct {
		name    string
		proxy   string
		runtime bool // a runtime that runs commands in containers
		want    map[string]want
	}{
		{"builtin proxy, no container runtime", "builtin", false, map[string]want{
			"consul": {gate: true}, "trino-coordinator": {gate: true}, "trino-worker-1": {gate: true, preStop: true},
			"trino-coordinator-sidecar": {gate: true}, "notebook": {}, "notebook-sidecar": {},
		}},
		{"builtin proxy, Docker", "builtin", true, map[string]want{
			"consul": {gate: true}, "trino-coordinator": {gate: true}, "trino-worker-1": {gate: true, preStop: true},
			"trino-coordinator-sidecar": {gate: true}, "notebook": {}, "notebook-sidecar": {gate: true},
		}},
		{"envoy, Docker", "envoy", true, map[string]want{
			"consul": {gate: true}, "trino-coordinator": {gate: true}, "trino-worker-1": {gate: true, preStop: true},
			"trino-coordinator-sidecar": {gate: true, prepare: true}, "notebook": {}, "notebook-sidecar": {gate: true, prepare: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Default()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Mesh.Proxy = tc.proxy
			sec := provisioned(t, cfg)
			k := NewControl(cfg, sec, nil)
			if tc.runtime {
				k = NewControl(cfg, sec, newContainers(t, cfg))
			}
			topo, err := appliance.Plan(cfg, sec, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range topo.Services {
				w, ok := tc.want[s.Name]
				if !ok {
					t.Errorf("unexpected service %s", s.Name)
					continue
				}
				got := want{s.Gate != nil, s.Prepare != nil, s.PreStop != nil}
				if got != w {
					t.Errorf("%s: gate, prepare, pre-stop = %v, want %v", s.Name, got, w)
				}
			}
			if len(topo.Services) != len(tc.want) {
				t.Errorf("%d services planned, want %d", len(topo.Services), len(tc.want))
			}
		})
	}
}
