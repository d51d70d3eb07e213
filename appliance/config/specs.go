package config

import (
	"time"

	"moat/supervisor"
)

// extraSpecs are the [[service]] entries as supervisor specs.
func extraSpecs(c *Config) []supervisor.Spec {
	specs := make([]supervisor.Spec, 0, len(c.Services))
	for _, s := range c.Services {
		specs = append(specs, ServiceSpec(c, s))
	}
	// Dependencies on built-in services resolve against placeholders here;
	// Plan puts the real ones in.
	for _, name := range CatalogueOf(c).Names() {
		specs = append(specs, supervisor.Spec{Name: name})
	}
	return specs
}

// ServiceSpec is the [[service]] s as the supervisor runs it.
func ServiceSpec(c *Config, s Service) supervisor.Spec {
	spec := supervisor.Spec{
		Name: s.Name, Image: s.Image, Entrypoint: s.Entrypoint, Command: s.Command, Env: s.Env,
		Networks:     []supervisor.Attachment{{Network: AppsNetwork, Aliases: []string{s.Name}}},
		MemoryBytes:  int64(s.Memory),
		Restart:      supervisor.RestartMode(s.Restart),
		StartTimeout: s.StartTimeout.D(),
		StopGrace:    s.StopGrace.D(),
	}
	if spec.Restart == "" {
		spec.Restart = supervisor.RestartAlways
	}
	if spec.StartTimeout == 0 {
		spec.StartTimeout = c.Appliance.StartTimeout.D()
	}
	if spec.StopGrace == 0 {
		spec.StopGrace = c.Appliance.StopGrace.D()
	}
	for _, p := range s.Ports {
		spec.Ports = append(spec.Ports, p.Port)
	}
	for _, v := range s.Volumes {
		spec.Mounts = append(spec.Mounts, v.Mount)
	}
	for _, d := range s.DependsOn {
		spec.DependsOn = append(spec.DependsOn, d.Dependency)
	}
	if len(s.Health) > 0 {
		spec.Health = &supervisor.Probe{
			Command: s.Health, Interval: orDefault(s.HealthInterval, 2*time.Second), Timeout: orDefault(s.HealthTimeout, 2*time.Second),
			StartPeriod: s.HealthStartPeriod.D(), Retries: orDefaultInt(s.HealthRetries, 3),
		}
	}
	return spec
}

func orDefault(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d.D()
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
