package appliance

import (
	"fmt"
	"slices"
	"strings"

	"moat/appliance/config"
	"moat/supervisor"
)

// Equipper gives a planned built-in service what only a running control
// plane can do, by the service's role in the catalogue: a readiness gate,
// a preparation and a pre-stop action (Control).
type Equipper interface {
	Equip(s *supervisor.Spec, b config.Builtin, cat config.Catalogue)
}

// Plan turns the config into the topology moat runs; with k (moat's
// control plane, nil for a command that starts nothing) each built-in
// service gets its readiness gate and actions. It changes nothing:
// it plans on a read-only snapshot of sec. With secrets that may change
// (moat up), what the plan needs must have been provisioned first; with
// read-only ones, what is missing is a placeholder kept in memory.
func Plan(c *config.Config, sec *Secrets, k Equipper) (supervisor.Topology, error) {
	topo := supervisor.Topology{Project: c.Appliance.Project}
	view := sec.snapshot()
	builtin, err := planBuiltin(c, view, k)
	if err != nil {
		return topo, err
	}
	if missing := view.unprovisioned(sec); !sec.ReadOnly() && len(missing) > 0 {
		return topo, fmt.Errorf("the plan needs secrets that were not provisioned (%s): run Provision first", strings.Join(missing, ", "))
	}
	topo.Networks = append(topo.Networks, builtin.Networks...)
	if len(c.Services) > 0 {
		// Docker picks the apps network's subnet: after the fixed ones, so
		// that its choice cannot take the mesh's or Trino's range.
		topo.Networks = append(topo.Networks, supervisor.Network{Name: config.AppsNetwork})
	}
	topo.Volumes = append(topo.Volumes, builtin.Volumes...)
	topo.Services = append(topo.Services, builtin.Services...)
	vols := map[string]bool{}
	for _, s := range c.Services {
		spec := config.ServiceSpec(c, s)
		for _, m := range spec.Mounts {
			if !vols[m.Volume] {
				vols[m.Volume] = true
				topo.Volumes = append(topo.Volumes, supervisor.Volume{Name: m.Volume})
			}
		}
		// Extra services reach the built-in ones by name on their networks
		// (never on the control network: no application reaches Consul).
		for _, n := range builtin.Networks {
			if !n.Internal && n.Name != config.ControlNetwork && !slices.ContainsFunc(spec.Networks, func(a supervisor.Attachment) bool { return a.Network == n.Name }) {
				spec.Networks = append(spec.Networks, supervisor.Attachment{Network: n.Name, Aliases: []string{s.Name}})
			}
		}
		topo.Services = append(topo.Services, spec)
	}
	if _, err := supervisor.Order(topo.Services); err != nil {
		return topo, err
	}
	return topo, nil
}
