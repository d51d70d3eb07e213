package docker

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"moat/supervisor"
)

// Start starts a created (or stopped) container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	if err := r.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return notFound(err, "start container %s", short(id))
	}
	return nil
}

// Stop sends the container's stop signal, waits up to grace (in whole
// seconds, rounded up), then kills it.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := max(int(math.Ceil(grace.Seconds())), 0) // -1 would wait for ever
	if err := r.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil {
		return notFound(err, "stop container %s", short(id))
	}
	return nil
}

// Kill sends SIGKILL.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	if err := r.cli.ContainerKill(ctx, id, "KILL"); err != nil {
		return notFound(err, "kill container %s", short(id))
	}
	return nil
}

// Remove deletes the container (killing it if it runs) and its anonymous
// volumes; the project's named volumes stay.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	if err := r.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return notFound(err, "remove container %s", short(id))
	}
	return nil
}

// Inspect reports the container's state, health, addresses and ports.
func (r *Runtime) Inspect(ctx context.Context, id string) (supervisor.Instance, error) {
	c, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return supervisor.Instance{}, notFound(err, "inspect container %s", short(id))
	}
	return instance(c), nil
}

// instance maps the engine's view of a container onto supervisor.Instance.
func instance(c container.InspectResponse) supervisor.Instance {
	in := supervisor.Instance{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/")}
	if c.Config != nil {
		in.Service = c.Config.Labels[supervisor.LabelService]
		in.ConfigHash = c.Config.Labels[supervisor.LabelConfigHash]
	}
	if s := c.State; s != nil {
		in.State = state(s.Status)
		in.ExitCode = s.ExitCode
		in.StartedAt = engineTime(s.StartedAt)
		in.FinishedAt = engineTime(s.FinishedAt)
		in.Health, in.LastProbe = health(s.Health)
	}
	if c.NetworkSettings != nil {
		in.Addresses = addresses(projectOf(c), c.NetworkSettings.Networks)
		in.Ports = publishedPorts(c.NetworkSettings.Ports)
	}
	if len(in.Ports) == 0 && c.HostConfig != nil {
		in.Ports = publishedPorts(c.HostConfig.PortBindings)
	}
	return in
}

func projectOf(c container.InspectResponse) string {
	if c.Config == nil {
		return ""
	}
	return c.Config.Labels[supervisor.LabelProject]
}

// state maps the engine's status words; a paused or restarting container
// still holds its process, so it counts as running.
func state(status container.ContainerState) supervisor.State {
	switch status {
	case container.StateCreated:
		return supervisor.StateCreated
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		return supervisor.StateRunning
	default: // exited, dead, removing
		return supervisor.StateExited
	}
}

// health is the probe's status and the last probe's trimmed output.
func health(h *container.Health) (supervisor.Health, string) {
	if h == nil || h.Status == container.NoHealthcheck {
		return supervisor.HealthNone, ""
	}
	var last string
	if n := len(h.Log); n > 0 {
		last = strings.TrimSpace(h.Log[n-1].Output)
	}
	return supervisor.Health(h.Status), last
}

// engineTime parses the engine's RFC 3339 times; its zero time
// ("0001-01-01T00:00:00Z") and anything unparsable become time.Time{}.
func engineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// addresses are the container's IPv4 addresses by logical network name;
// networks not of the project keep the engine's name.
func addresses(project string, nets map[string]*network.EndpointSettings) map[string]string {
	if len(nets) == 0 {
		return nil
	}
	out := map[string]string{}
	for name, e := range nets {
		if e == nil || e.IPAddress == "" {
			continue
		}
		if logical, ok := logicalName(project, name); ok && project != "" {
			name = logical
		}
		out[name] = e.IPAddress
	}
	return out
}

// publishedPorts lists bindings sorted by container port, then host port.
func publishedPorts(pm nat.PortMap) []supervisor.Port {
	var out []supervisor.Port
	for cp, bindings := range pm {
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, supervisor.Port{HostIP: b.HostIP, HostPort: hp, ContainerPort: cp.Int(), Protocol: cp.Proto()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		return out[i].HostPort < out[j].HostPort
	})
	return out
}

// short is an ID as the docker CLI shows it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
