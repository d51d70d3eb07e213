package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"moat/supervisor"
)

// defaultHostIP is where ports are published unless a Port says otherwise.
const defaultHostIP = "127.0.0.1"

// Create makes the container <project>-<service>, attaches it to its
// networks and delivers its files; it does not start it. A container of that
// name left from an earlier run is an error naming it: whether to remove it
// is the caller's decision. When a step after the container exists fails,
// Create removes the container it made.
func (r *Runtime) Create(ctx context.Context, project string, s supervisor.Spec, peerID string) (string, error) {
	name := containerName(project, s.Name)
	cfg, host, netcfg, err := containerConfig(project, s, peerID)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", name, err)
	}
	resp, err := r.cli.ContainerCreate(ctx, cfg, host, netcfg, nil, name)
	switch {
	case cerrdefs.IsConflict(err):
		return "", fmt.Errorf("container %s already exists (left from an earlier run?): it must be removed before %s can be created: %w", name, s.Name, err)
	case cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("create container %s: image %s is not present: pull it first: %w", name, s.Image, err)
	case err != nil:
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	if err := r.finishCreate(ctx, project, s, resp.ID); err != nil {
		return "", errors.Join(fmt.Errorf("container %s: %w", name, err), r.Remove(context.WithoutCancel(ctx), resp.ID))
	}
	return resp.ID, nil
}

// finishCreate connects the networks after the first and copies the files in.
func (r *Runtime) finishCreate(ctx context.Context, project string, s supervisor.Spec, id string) error {
	if s.ShareNetworkWith == "" && len(s.Networks) > 1 {
		for _, a := range s.Networks[1:] {
			net := objectName(project, a.Network)
			if err := r.cli.NetworkConnect(ctx, net, id, endpoint(s.Name, a)); err != nil {
				return fmt.Errorf("connect to network %s: %w", net, err)
			}
		}
	}
	return r.copyFiles(ctx, id, s.Files)
}

// containerConfig maps s onto the engine's three create structures.
func containerConfig(project string, s supervisor.Spec, peerID string) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	cfg := &container.Config{
		Image:       s.Image,
		Env:         envList(s.Env),
		User:        s.User,
		WorkingDir:  s.WorkingDir,
		Labels:      containerLabels(project, s),
		StopSignal:  s.StopSignal,
		Healthcheck: healthcheck(s.Health),
	}
	if len(s.Entrypoint) > 0 {
		cfg.Entrypoint = s.Entrypoint
	}
	if len(s.Command) > 0 {
		cfg.Cmd = s.Command
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources:     container.Resources{Memory: s.MemoryBytes},
		Mounts:        mounts(project, s.Mounts),
	}
	if s.ShareNetworkWith != "" {
		if peerID == "" {
			return nil, nil, nil, fmt.Errorf("shares the network of %s, whose container ID was not given", s.ShareNetworkWith)
		}
		if len(s.Networks) > 0 || len(s.Ports) > 0 {
			return nil, nil, nil, fmt.Errorf("shares the network of %s, so it can have no networks or ports of its own (publish them on %s)", s.ShareNetworkWith, s.ShareNetworkWith)
		}
		host.NetworkMode = container.NetworkMode("container:" + peerID)
		return cfg, host, nil, nil
	}
	exposed, bindings, err := ports(s.Ports)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.ExposedPorts, host.PortBindings = exposed, bindings
	var netcfg *network.NetworkingConfig
	if len(s.Networks) > 0 {
		first := s.Networks[0]
		net := objectName(project, first.Network)
		host.NetworkMode = container.NetworkMode(net)
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: endpoint(s.Name, first)}}
	}
	return cfg, host, netcfg, nil
}

func containerLabels(project string, s supervisor.Spec) map[string]string {
	l := maps.Clone(s.ExtraLabels)
	if l == nil {
		l = map[string]string{}
	}
	l[supervisor.LabelProject] = project
	l[supervisor.LabelService] = s.Name
	l[supervisor.LabelConfigHash] = s.ConfigHash()
	return l
}

// envList is env as KEY=value, sorted for a stable container config.
func envList(env map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// endpoint is a service's settings on one network: its fixed address, if
// any, and its aliases, the service name first.
func endpoint(service string, a supervisor.Attachment) *network.EndpointSettings {
	e := &network.EndpointSettings{Aliases: append([]string{service}, a.Aliases...)}
	if a.IP != "" {
		e.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IP}
	}
	return e
}

func healthcheck(p *supervisor.Probe) *container.HealthConfig {
	if p == nil || len(p.Command) == 0 {
		return nil
	}
	return &container.HealthConfig{
		Test:        append([]string{"CMD"}, p.Command...),
		Interval:    p.Interval,
		Timeout:     p.Timeout,
		StartPeriod: p.StartPeriod,
		Retries:     p.Retries,
	}
}

func mounts(project string, ms []supervisor.Mount) []mount.Mount {
	var out []mount.Mount
	for _, m := range ms {
		out = append(out, mount.Mount{
			Type:     mount.TypeVolume,
			Source:   objectName(project, m.Volume),
			Target:   m.Target,
			ReadOnly: m.ReadOnly,
		})
	}
	return out
}

// ports maps published ports; HostIP defaults to 127.0.0.1.
func ports(ps []supervisor.Port) (nat.PortSet, nat.PortMap, error) {
	if len(ps) == 0 {
		return nil, nil, nil
	}
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		cp, err := nat.NewPort(proto, strconv.Itoa(p.ContainerPort))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d/%s: %w", p.ContainerPort, proto, err)
		}
		hostIP := p.HostIP
		if hostIP == "" {
			hostIP = defaultHostIP
		}
		exposed[cp] = struct{}{}
		bindings[cp] = append(bindings[cp], nat.PortBinding{HostIP: hostIP, HostPort: hostPort(p.HostPort)})
	}
	return exposed, bindings, nil
}

// hostPort is the engine's form of a host port: empty lets it choose one.
func hostPort(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}
